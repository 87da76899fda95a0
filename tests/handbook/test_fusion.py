"""fusion: early / late / mid fusion, modality dropout and mask-aware fusion."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.fusion import EarlyFusion, MidFusion, late_fusion, masked_fusion, modality_dropout


def test_early_fusion_is_a_head_on_the_concatenation():
    torch.manual_seed(0)
    model = EarlyFusion([3, 5], num_classes=4)
    a, b = torch.randn(2, 3), torch.randn(2, 5)
    torch.testing.assert_close(model([a, b]), model.head(torch.cat([a, b], dim=-1)))
    assert model([a, b]).shape == (2, 4)


def test_late_fusion_with_a_zeroed_modality_equals_the_unimodal_head():
    torch.manual_seed(0)
    za, zb = torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(late_fusion([za, zb], torch.tensor([1.0, 0.0])), za)
    torch.testing.assert_close(late_fusion([za, zb], torch.tensor([0.0, 2.0])), zb)
    torch.testing.assert_close(late_fusion([za, zb]), (za + zb) / 2)
    per_sample = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    expected = torch.stack([za[0], zb[1], (za[2] + zb[2]) / 2])
    torch.testing.assert_close(late_fusion([za, zb], per_sample), expected)


def test_mid_fusion_modalities_interact_only_in_the_joint_layer():
    torch.manual_seed(0)
    model = MidFusion([3, 5], dim=8, num_classes=2).eval()
    a, b = torch.randn(2, 4, 3), torch.randn(2, 6, 5)
    assert model([a, b]).shape == (2, 2)
    # The fused prediction depends on both modalities ...
    assert (model([a, b]) - model([a, b + 1.0])).abs().max() > 1e-4
    assert (model([a, b]) - model([a + 1.0, b])).abs().max() > 1e-4
    # ... and the token order inside a modality does not matter (no positions, mean pooling).
    torch.testing.assert_close(model([a, b]), model([a[:, [3, 2, 1, 0]], b]), atol=1e-5, rtol=1e-5)


def test_modality_dropout_never_drops_everything_and_zeroes_dropped():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, 4) + 5.0
    out, mask = modality_dropout(x, p=0.7, generator=g)
    assert mask.any(dim=1).all()
    assert (out[~mask] == 0).all()
    torch.testing.assert_close(out[mask], x[mask])
    # Dropped fraction is near p (slightly below: some all-dropped rows get one modality back).
    assert 0.55 < 1 - mask.float().mean().item() < 0.72


def test_modality_dropout_p_zero_keeps_everything():
    x = torch.randn(5, 2, 3)
    out, mask = modality_dropout(x, p=0.0)
    assert mask.all()
    torch.testing.assert_close(out, x)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), use_scores=st.booleans())
def test_masked_fusion_ignores_values_of_masked_modalities(seed, use_scores):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3, 5, generator=g)
    mask = torch.rand(4, 3, generator=g) > 0.4
    mask[:, 0] = True
    scores = torch.randn(4, 3, generator=g) if use_scores else None
    garbage = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, float("nan")))
    torch.testing.assert_close(masked_fusion(garbage, mask, scores), masked_fusion(x, mask, scores))
    assert torch.isfinite(masked_fusion(garbage, mask, scores)).all()


def test_masked_fusion_is_mean_of_present_and_softmax_weighted():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(masked_fusion(x, mask), torch.tensor([[2.0, 3.0]]))
    scores = torch.tensor([[0.0, torch.log(torch.tensor(3.0)), 50.0]])
    torch.testing.assert_close(masked_fusion(x, mask, scores), torch.tensor([[2.5, 3.5]]))


def test_errors():
    model = EarlyFusion([3, 5], 2)
    with pytest.raises(ValueError, match="expected 2 modalities"):
        model([torch.randn(1, 3)])
    with pytest.raises(ValueError, match="modality 1 must have last dim 5"):
        model([torch.randn(1, 3), torch.randn(1, 4)])
    with pytest.raises(ValueError, match="leading"):
        model([torch.randn(1, 3), torch.randn(2, 5)])
    z = torch.randn(2, 3)
    with pytest.raises(ValueError, match="at least one"):
        late_fusion([])
    with pytest.raises(ValueError, match="same shape"):
        late_fusion([z, torch.randn(2, 4)])
    with pytest.raises(ValueError, match="weights must have 2"):
        late_fusion([z, z], torch.ones(3))
    with pytest.raises(ValueError, match="positive sum"):
        late_fusion([z, z], torch.zeros(2))
    with pytest.raises(ValueError, match=">= 0"):
        late_fusion([z, z], torch.tensor([1.0, -1.0]))
    mid = MidFusion([3, 5], 8, 2)
    with pytest.raises(ValueError, match="batch, tokens, dim"):
        mid([torch.randn(1, 3), torch.randn(1, 2, 5)])
    with pytest.raises(ValueError, match="expected 2 modalities"):
        mid([torch.randn(1, 2, 3)])
    with pytest.raises(ValueError, match="modality 0 must have last dim 3"):
        mid([torch.randn(1, 2, 4), torch.randn(1, 2, 5)])
    with pytest.raises(ValueError, match="num_modalities, dim"):
        modality_dropout(torch.randn(2, 3), 0.5)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        modality_dropout(torch.randn(2, 3, 4), 1.0)
    x, mask = torch.randn(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="boolean"):
        masked_fusion(x, mask.float())
    with pytest.raises(ValueError, match="at least one present"):
        masked_fusion(x, torch.zeros(2, 3, dtype=torch.bool))

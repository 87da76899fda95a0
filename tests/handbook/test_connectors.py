"""connectors: shapes, the papers' invariants, and bad-input errors (the toy LLaVA is in test_llava.py)."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.connectors import GatedCrossAttentionBlock, LinearProjector, MLPProjector, QueryResampler


def test_linear_projector_is_one_affine_map_per_patch():
    torch.manual_seed(0)
    proj = LinearProjector(6, 10)
    x = torch.randn(2, 5, 6)
    torch.testing.assert_close(proj(x), x @ proj.proj.weight.T + proj.proj.bias)
    assert proj(x).shape == (2, 5, 10)


def test_mlp_projector_matches_manual_two_layer_gelu():
    torch.manual_seed(0)
    proj = MLPProjector(6, 10)
    x = torch.randn(2, 5, 6)
    first, second = proj.net[0], proj.net[2]
    expected = F.linear(F.gelu(F.linear(x, first.weight, first.bias)), second.weight, second.bias)
    torch.testing.assert_close(proj(x), expected)
    # The GELU makes it non-linear: f(2x) != 2 f(x) - f(0), unlike the linear projector.
    assert (proj(2 * x) - (2 * proj(x) - proj(torch.zeros_like(x)))).abs().max() > 1e-3


@settings(max_examples=15, deadline=None)
@given(num_patches=st.integers(1, 40), batch=st.integers(1, 3), heads=st.sampled_from([1, 2, 4]))
def test_resampler_output_size_is_independent_of_patch_count(num_patches, batch, heads):
    torch.manual_seed(0)
    resampler = QueryResampler(vision_dim=8, llm_dim=12, num_queries=4, num_heads=heads)
    out = resampler(torch.randn(batch, num_patches, 8))
    assert out.shape == (batch, 4, 12)


def test_resampler_depends_on_the_patches_and_matches_manual_single_head():
    torch.manual_seed(0)
    r = QueryResampler(vision_dim=8, llm_dim=12, num_queries=3)
    x = torch.randn(2, 7, 8)
    assert (r(x) - r(x + 1.0)).abs().max() > 1e-3
    q = r.queries.expand(2, -1, -1)
    ctx = torch.cat([x, q], dim=1)
    scores = r.q(q) @ r.k(ctx).transpose(1, 2) / 8**0.5
    latents = q + r.o(scores.softmax(-1) @ r.v(ctx))
    torch.testing.assert_close(r(x), r.out(latents + r.ffw(latents)), atol=1e-5, rtol=1e-5)


def test_resampler_is_permutation_invariant_over_patches():
    # Without positional encodings the queries see a set of patches: the order cannot matter.
    torch.manual_seed(0)
    r = QueryResampler(vision_dim=8, llm_dim=12, num_queries=3, num_heads=2)
    x = torch.randn(1, 9, 8)
    torch.testing.assert_close(r(x), r(x[:, torch.randperm(9)]), atol=1e-5, rtol=1e-5)


def test_gated_cross_attention_at_zero_gate_is_identity_and_opens_with_gate():
    torch.manual_seed(0)
    block = GatedCrossAttentionBlock(dim=8, vision_dim=6, num_heads=2)
    hidden, visual = torch.randn(2, 5, 8), torch.randn(2, 3, 6)
    torch.testing.assert_close(block(hidden, visual), hidden, atol=0, rtol=0)
    with torch.no_grad():
        block.alpha_xattn.fill_(1.0)
    assert (block(hidden, visual) - hidden).abs().max() > 1e-3
    # The gate receives gradient at 0 (d tanh/dx = 1), so training can open it.
    block.alpha_xattn.data.zero_()
    block(hidden, visual).sum().backward()
    assert block.alpha_xattn.grad.abs() > 0


@pytest.mark.parametrize("module", [LinearProjector(6, 4), MLPProjector(6, 4), QueryResampler(6, 4, 2, 2)])
def test_projectors_reject_wrong_width_and_rank(module):
    with pytest.raises(ValueError, match="last dim must be 6"):
        module(torch.randn(1, 3, 5))
    with pytest.raises(ValueError, match=r"shape \[batch, tokens, 6\]"):
        module(torch.randn(3, 6))
    with pytest.raises(ValueError, match="floating-point"):
        module(torch.ones(1, 3, 6, dtype=torch.long))


def test_constructor_and_gated_block_errors():
    with pytest.raises(ValueError, match="num_queries must be >= 1"):
        QueryResampler(8, 8, 0)
    with pytest.raises(ValueError, match="must divide vision_dim"):
        QueryResampler(8, 8, 2, num_heads=3)
    with pytest.raises(ValueError, match="must divide dim"):
        GatedCrossAttentionBlock(8, 6, num_heads=3)
    block = GatedCrossAttentionBlock(8, 6)
    with pytest.raises(ValueError, match="visual last dim must be 6"):
        block(torch.randn(1, 2, 8), torch.randn(1, 2, 8))
    with pytest.raises(ValueError, match="same batch size"):
        block(torch.randn(1, 2, 8), torch.randn(2, 2, 6))

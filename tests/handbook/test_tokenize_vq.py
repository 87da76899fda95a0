"""tokenize_vq: nearest-codebook quantisation, straight-through gradient, VQ loss, Transfusion mask."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.tokenize_vq import transfusion_attention_mask, vector_quantize, vq_loss


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 12), d=st.integers(1, 6))
def test_indices_are_argmin_of_distance_and_values_are_codes(seed, k, d):
    g = torch.Generator().manual_seed(seed)
    z, codebook = (
        torch.randn(2, 5, d, generator=g, dtype=torch.float64),
        torch.randn(k, d, generator=g, dtype=torch.float64),
    )
    z_q, idx = vector_quantize(z, codebook)
    expected = torch.cdist(z.reshape(-1, d), codebook).argmin(dim=1).reshape(2, 5)
    assert torch.equal(idx, expected)
    torch.testing.assert_close(z_q, codebook[idx])


def test_hand_computed_codebook_example():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
    z = torch.tensor([[0.9, 0.8], [-1.2, 0.1], [0.2, -0.1]])
    _, idx = vector_quantize(z, codebook)
    assert idx.tolist() == [1, 2, 0]


def test_straight_through_gradient_is_identity():
    z = torch.randn(4, 3, requires_grad=True)
    codebook = torch.randn(5, 3)
    z_q, _ = vector_quantize(z, codebook)
    weights = torch.randn(4, 3)
    (z_q * weights).sum().backward()
    torch.testing.assert_close(z.grad, weights)


def test_vq_loss_terms_and_gradients():
    z = torch.tensor([[1.0, 2.0]], requires_grad=True)
    code = torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss = vq_loss(z, code, beta=0.25)
    torch.testing.assert_close(loss, torch.tensor(2.5 * 1.25))  # mean squared error 2.5, times (1 + beta)
    loss.backward()
    # The commitment term alone reaches z: beta * d/dz mean((z-e)^2) = 0.25 * (z - e).
    torch.testing.assert_close(z.grad, 0.25 * torch.tensor([[1.0, 2.0]]))
    torch.testing.assert_close(code.grad, -torch.tensor([[1.0, 2.0]]))


def test_transfusion_mask_equals_hand_drawn_example():
    # text, text, [image 1: 3 patches], text, [image 2: 2 patches]
    ids = torch.tensor([0, 0, 1, 1, 1, 0, 2, 2])
    drawn = [
        "1.......",
        "11......",
        "11111...",
        "11111...",
        "11111...",
        "111111..",
        "11111111",
        "11111111",
    ]
    expected = torch.tensor([[c == "1" for c in row] for row in drawn])
    assert torch.equal(transfusion_attention_mask(ids), expected)


def test_transfusion_mask_without_images_is_causal():
    mask = transfusion_attention_mask(torch.zeros(5, dtype=torch.long))
    assert torch.equal(mask, torch.ones(5, 5, dtype=torch.bool).tril())


def test_errors():
    with pytest.raises(ValueError, match="floating-point"):
        vector_quantize(torch.ones(2, 3, dtype=torch.long), torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"codebook must be \[K, d\]"):
        vector_quantize(torch.randn(2, 3), torch.randn(4, 3, 1))
    with pytest.raises(ValueError, match="must match codebook dim 4"):
        vector_quantize(torch.randn(2, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match="differ"):
        vq_loss(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="1-D"):
        transfusion_attention_mask(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="integers"):
        transfusion_attention_mask(torch.zeros(3))
    with pytest.raises(ValueError, match=">= 0"):
        transfusion_attention_mask(torch.tensor([0, -1]))

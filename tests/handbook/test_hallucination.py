"""hallucination: InfoNCE with hallucinated-caption negatives reduces to plain InfoNCE without them."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.hallucination import infonce_with_hallucinated_negatives


def plain_symmetric_infonce(v, t, temperature):
    logits = F.normalize(v, dim=-1) @ F.normalize(t, dim=-1).T / temperature
    targets = torch.arange(len(v))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_reduces_to_plain_infonce(n, seed):
    g = torch.Generator().manual_seed(seed)
    v, t = (
        torch.randn(n, 8, generator=g, dtype=torch.float64),
        torch.randn(n, 8, generator=g, dtype=torch.float64),
    )
    expected = plain_symmetric_infonce(v, t, 0.1)
    torch.testing.assert_close(infonce_with_hallucinated_negatives(v, t, None, 0.1), expected)
    torch.testing.assert_close(
        infonce_with_hallucinated_negatives(v, t, torch.zeros(n, 0, 8, dtype=v.dtype), 0.1), expected
    )


def test_hand_computed_single_pair():
    # One image, its caption (cos = 1) and one hallucinated caption (cos = 0), tau = 1.
    v, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    h = torch.tensor([[[0.0, 3.0]]])
    loss = infonce_with_hallucinated_negatives(v, t, h, temperature=1.0)
    image_to_text = -math.log(math.e / (math.e + 1.0))
    assert loss.item() == pytest.approx((image_to_text + 0.0) / 2)


def test_hallucinated_negatives_raise_loss_more_when_closer():
    g = torch.Generator().manual_seed(0)
    v, t = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    base = infonce_with_hallucinated_negatives(v, t)
    far = infonce_with_hallucinated_negatives(v, t, -t.unsqueeze(1))  # opposite of the caption
    near = infonce_with_hallucinated_negatives(v, t, (t + 0.05 * torch.randn(4, 8, generator=g)).unsqueeze(1))
    assert base < far < near


def test_bad_inputs():
    v = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"must both be \[N, d\]"):
        infonce_with_hallucinated_negatives(v, torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"hallucinated_features must be \[N, M, d\]"):
        infonce_with_hallucinated_negatives(v, v, torch.randn(3, 2, 5))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        infonce_with_hallucinated_negatives(v, v, temperature=0.0)

"""imbalance: weighted CE against F.cross_entropy, focal loss formula, balanced sampling, similarity filter."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.imbalance import (
    balanced_sample_weights,
    class_counts,
    focal_loss,
    inverse_frequency_weights,
    similarity_filter,
    weighted_cross_entropy,
)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_weighted_ce_matches_torch(seed):
    g = torch.Generator().manual_seed(seed)
    logits, targets = torch.randn(8, 4, generator=g), torch.randint(0, 4, (8,), generator=g)
    w = torch.rand(4, generator=g) + 0.1
    torch.testing.assert_close(
        weighted_cross_entropy(logits, targets, w), F.cross_entropy(logits, targets, weight=w)
    )


def test_focal_loss_formula_and_reductions():
    logits, targets = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), torch.tensor([0, 0, 1])
    pt = F.softmax(logits, -1)[torch.arange(3), targets]
    alpha = torch.tensor([0.25, 0.75])
    expected = (-alpha[targets] * (1 - pt) ** 2 * pt.log()).mean()
    torch.testing.assert_close(focal_loss(logits, targets, gamma=2.0, alpha=alpha), expected)
    torch.testing.assert_close(focal_loss(logits, targets, gamma=0.0), F.cross_entropy(logits, targets))


def test_focal_loss_down_weights_easy_examples():
    easy, hard = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.0, 0.5]])
    y = torch.tensor([0])
    ratio_easy = focal_loss(easy, y) / F.cross_entropy(easy, y)
    ratio_hard = focal_loss(hard, y) / F.cross_entropy(hard, y)
    assert ratio_easy < 0.001 < 0.3 < ratio_hard


def test_inverse_frequency_and_balanced_sampling():
    targets = torch.tensor([0] * 8 + [1] * 2)
    counts = class_counts(targets, 2)
    assert counts.tolist() == [8, 2]
    torch.testing.assert_close(inverse_frequency_weights(counts), torch.tensor([10 / 16, 10 / 4]))
    w = balanced_sample_weights(targets, 2)
    torch.testing.assert_close(w[targets == 0].sum(), w[targets == 1].sum())
    draws = torch.multinomial(w, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    assert abs((targets[draws] == 1).float().mean().item() - 0.5) < 0.02


def test_similarity_filter():
    img = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert similarity_filter(img, txt, 0.5).tolist() == [True, False, True]


def test_bad_inputs():
    logits, targets = torch.randn(3, 2), torch.tensor([0, 1, 0])
    with pytest.raises(ValueError, match=r"weights must be \[2\]"):
        weighted_cross_entropy(logits, targets, torch.ones(3))
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        focal_loss(logits, targets, gamma=-1.0)
    with pytest.raises(ValueError, match=r"alpha must be \[2\]"):
        focal_loss(logits, targets, alpha=torch.ones(3))
    with pytest.raises(ValueError, match=r"targets must be \[3\]"):
        focal_loss(logits, targets[:2])
    with pytest.raises(ValueError, match="integer class ids"):
        focal_loss(logits, targets.float())
    with pytest.raises(ValueError, match=r"logits must be \[batch, classes\]"):
        focal_loss(torch.randn(3), targets)
    with pytest.raises(ValueError, match="at least one example"):
        inverse_frequency_weights(torch.tensor([3, 0]))
    with pytest.raises(ValueError, match=">= num_classes"):
        class_counts(torch.tensor([0, 2]), 2)
    with pytest.raises(ValueError, match="same shape"):
        similarity_filter(torch.randn(2, 3), torch.randn(3, 3), 0.2)
    with pytest.raises(ValueError, match="threshold"):
        similarity_filter(torch.randn(2, 3), torch.randn(2, 3), 2.0)

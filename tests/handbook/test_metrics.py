"""metrics: Recall@K, CHAIR and POPE on hand-computed toy examples, plus their invariants."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.metrics import chair, pope_metrics, recall_at_k

# Row 0: match ranked 1st; row 1: 2nd (0.9 beats 0.5); row 2: 3rd (0.8 and 0.7 beat 0.1).
TOY = torch.tensor([[0.9, 0.2, 0.1], [0.9, 0.5, 0.3], [0.8, 0.7, 0.1]])


def test_recall_at_k_hand_computed():
    assert recall_at_k(TOY, 1) == pytest.approx(1 / 3)
    assert recall_at_k(TOY, 2) == pytest.approx(2 / 3)
    assert recall_at_k(TOY, 3) == pytest.approx(1.0)
    # Text-to-image uses the transpose: item 0 ties with 0.9 (ties count as hits) -> 1st;
    # item 1: 0.5 < 0.7 -> 2nd; item 2: 0.1 < 0.3, tie with 0.1 -> 2nd.
    assert recall_at_k(TOY.T, 1) == pytest.approx(1 / 3)
    assert recall_at_k(TOY.T, 2) == pytest.approx(1.0)


def test_recall_at_k_identity_is_perfect():
    assert recall_at_k(torch.eye(4), 1) == 1.0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_recall_at_k_monotone_and_one_at_n(n, seed):
    sim = torch.randn(n, n, generator=torch.Generator().manual_seed(seed))
    values = [recall_at_k(sim, k) for k in range(1, n + 1)]
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert values[-1] == 1.0


def test_recall_at_k_bad_inputs():
    with pytest.raises(ValueError, match=r"k must be in \[1, N\]"):
        recall_at_k(TOY, 0)
    with pytest.raises(ValueError, match=r"k must be in \[1, N\]"):
        recall_at_k(TOY, 4)
    with pytest.raises(ValueError, match="square"):
        recall_at_k(torch.ones(2, 3), 1)
    with pytest.raises(ValueError, match="square"):
        recall_at_k(torch.ones(0, 0), 1)


def test_chair_hand_computed():
    mentioned = [{"dog", "frisbee"}, {"cat", "sofa", "remote"}, {"car"}]
    truth = [{"dog", "frisbee", "tree"}, {"cat", "sofa"}, {"bus"}]
    chair_s, chair_i = chair(mentioned, truth)
    # Hallucinated: "remote" (caption 2) and "car" (caption 3) -> 2 of 6 mentions, 2 of 3 captions.
    assert chair_i == pytest.approx(2 / 6)
    assert chair_s == pytest.approx(2 / 3)


def test_chair_is_an_error_rate():
    assert chair([{"dog"}], [{"dog"}]) == (0.0, 0.0)
    assert chair([{"dog"}], [{"cat"}]) == (1.0, 1.0)
    # Objects in the image that the caption omits do not count (CHAIR measures precision, not recall).
    assert chair([{"dog"}], [{"dog", "cat", "tree"}]) == (0.0, 0.0)


def test_chair_bad_inputs():
    with pytest.raises(ValueError, match="at least one caption"):
        chair([], [])
    with pytest.raises(ValueError, match="one ground-truth set per caption"):
        chair([{"dog"}], [{"dog"}, {"cat"}])
    with pytest.raises(ValueError, match="mention no objects"):
        chair([set(), set()], [{"dog"}, {"cat"}])


def test_pope_hand_computed():
    preds = [True, True, True, False, True, False]
    labels = [True, True, False, False, False, True]
    # TP=2, FP=2, TN=1, FN=1
    m = pope_metrics(preds, labels)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["yes_ratio"] == pytest.approx(4 / 6)


def test_pope_always_yes_model():
    labels = [True, False] * 5
    m = pope_metrics([True] * 10, labels)
    assert m == pytest.approx(
        {"accuracy": 0.5, "precision": 0.5, "recall": 1.0, "f1": 2 / 3, "yes_ratio": 1.0}
    )


def test_pope_never_yes_model_has_zero_precision():
    m = pope_metrics([False] * 4, [True, False, True, False])
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0 and m["yes_ratio"] == 0.0
    assert pope_metrics([False], [False])["recall"] == 0.0


def test_pope_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        pope_metrics([True], [True, False])
    with pytest.raises(ValueError, match="must not be empty"):
        pope_metrics([], [])

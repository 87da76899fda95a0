"""metrics: retrieval, CHAIR, POPE, pass@k and paired tests on hand-computed toy examples, plus invariants."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.metrics import (
    accuracy_standard_error,
    chair,
    mcnemar_exact,
    mean_reciprocal_rank,
    paired_bootstrap_ci,
    pass_at_k,
    pope_metrics,
    recall_at_k,
    retrieval_recall_at_k,
    swap_debiased_verdicts,
)

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


def test_recall_at_k_counts_per_query_row():
    # Asymmetric: rows 0 and 1 rank their match first, row 2 third, so R@1 = 2/3 per row. Counting the
    # items that beat a match down each column instead ([1, 1, 0] beaters) would give 1/3.
    sim = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.95, 0.95, 0.5]])
    assert recall_at_k(sim, 1) == pytest.approx(2 / 3)
    assert recall_at_k(sim, 2) == pytest.approx(2 / 3)
    assert recall_at_k(sim.T, 1) == pytest.approx(1 / 3)  # the other direction really differs


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
    with pytest.raises(ValueError, match=r"k must be in \[1, N\] = \[1, 0\]"):
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
    with pytest.raises(ValueError, match="zip"):  # one ground-truth set per caption
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


def test_pope_counts_false_positives_apart_from_true_positives():
    preds = [True, True, True, True, False, False, True]
    labels = [True, True, True, False, False, True, False]
    # TP=3, FP=2, FN=1, TN=1: precision 3/5, recall 3/4.
    m = pope_metrics(preds, labels)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(4 / 7)
    assert m["yes_ratio"] == pytest.approx(5 / 7)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))


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
    with pytest.raises(ValueError, match="zip"):  # one label per answer
        pope_metrics([True], [True, False])
    with pytest.raises(ValueError, match="must not be empty"):
        pope_metrics([], [])


# --- retrieval metrics for RAG: any number of relevant documents per query --------------------------


def test_retrieval_recall_and_mrr_hand_computed():
    scores = torch.tensor([[0.1, 0.9, 0.3, 0.5], [0.8, 0.2, 0.7, 0.1]])
    relevant = torch.tensor([[False, False, True, True], [False, True, False, False]])
    # Query 0: order 1, 3, 2, 0 -> relevant at ranks 2 and 1; query 1: order 0, 2, 1, 3 -> rank 2.
    assert retrieval_recall_at_k(scores, relevant, 1) == pytest.approx(0.0)
    assert retrieval_recall_at_k(scores, relevant, 2) == pytest.approx((1 / 2 + 0) / 2)
    assert retrieval_recall_at_k(scores, relevant, 3) == pytest.approx((1 + 1) / 2)
    assert mean_reciprocal_rank(scores, relevant) == pytest.approx((1 / 2 + 1 / 3) / 2)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_retrieval_recall_equals_recall_at_k_for_one_match_per_query(n, seed):
    # Small integer scores make ties common; both functions count ties in the match's favour.
    sim = torch.randint(0, 3, (n, n), generator=torch.Generator().manual_seed(seed)).float()
    eye = torch.eye(n, dtype=torch.bool)
    for k in range(1, n + 1):
        assert retrieval_recall_at_k(sim, eye, k) == recall_at_k(sim, k)


def test_mrr_of_toy_matrix():
    assert mean_reciprocal_rank(TOY, torch.eye(3, dtype=torch.bool)) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_retrieval_metrics_bad_inputs():
    scores = torch.zeros(2, 3)
    relevant = torch.tensor([[True, False, False], [False, False, False]])
    with pytest.raises(ValueError, match="at least one relevant"):
        mean_reciprocal_rank(scores, relevant)
    with pytest.raises(ValueError, match="same shape"):
        retrieval_recall_at_k(scores, torch.ones(2, 4, dtype=torch.bool), 1)
    ok = torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"k must be in \[1, D\]"):
        retrieval_recall_at_k(scores, ok, 4)
    with pytest.raises(ValueError, match=r"k must be in \[1, D\]"):
        retrieval_recall_at_k(scores, ok, 0)
    assert retrieval_recall_at_k(scores, ok, 3) == 1.0  # valid edge k = D


# --- pass@k ----------------------------------------------------------------------------------------


def brute_force_pass_at_k(n, c, k):
    """Fraction of all k-subsets of n samples (the first c correct) that contain a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_equals_enumeration_of_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_equals_binomial_ratio_for_large_n():
    for n, c, k in [(200, 13, 1), (200, 13, 10), (200, 13, 100), (200, 1, 100), (150, 40, 77)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), rel=1e-9)


def test_pass_at_k_edge_cases_and_pass_at_1():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c = 4 < k: every 5-subset holds a correct sample
    assert pass_at_k(10, 5, 5) < 1.0  # n - c = k: one all-wrong subset exists
    assert pass_at_k(10, 10, 10) == 1.0  # c = n and k = n: the valid edges
    assert pass_at_k(7, 3, 1) == pytest.approx(3 / 7)  # pass@1 is the fraction correct
    assert isinstance(pass_at_k(7, 3, 2), float)


def test_pass_at_k_differs_from_the_biased_estimator():
    n, c, k = 10, 2, 5
    biased = 1 - (1 - c / n) ** k  # plug-in estimate 1 - (1 - p)^k
    assert pass_at_k(n, c, k) == pytest.approx(7 / 9)
    assert abs(pass_at_k(n, c, k) - biased) > 0.1


def test_pass_at_k_bad_inputs():
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(5, -1, 1)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(5, 2, 0)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(5, 2, 6)


# --- paired comparison of two models ---------------------------------------------------------------


def test_accuracy_standard_error():
    correct = torch.tensor([1, 1, 1, 0, 1, 0, 0, 1])
    p = 5 / 8
    assert accuracy_standard_error(correct) == pytest.approx(math.sqrt(p * (1 - p) / 8))
    assert accuracy_standard_error(correct.bool()) == pytest.approx(
        correct.float().std(unbiased=False).item() / math.sqrt(8)
    )
    with pytest.raises(ValueError, match="non-empty 1-d"):
        accuracy_standard_error(torch.zeros(0))
    assert accuracy_standard_error(torch.tensor([1])) == 0.0  # valid edge: one item


def reference_bootstrap(a, b, num_resamples, alpha, seed):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(a), (num_resamples, len(a)), generator=g)
    gaps = sorted(sum(float(a[j]) - float(b[j]) for j in row) / len(a) for row in idx.tolist())
    q = torch.quantile(
        torch.tensor(gaps, dtype=torch.float64), torch.tensor([alpha / 2, 1 - alpha / 2]).double()
    )
    return q.tolist()


def test_paired_bootstrap_matches_a_loop_over_resamples():
    g = torch.Generator().manual_seed(2)
    a, b = (torch.rand(2, 60, generator=g) < torch.tensor([[0.7], [0.5]])).long()
    low, high = paired_bootstrap_ci(a, b, 200, 0.1, torch.Generator().manual_seed(3))
    ref_low, ref_high = reference_bootstrap(a, b, 200, 0.1, 3)
    assert low == pytest.approx(ref_low, abs=1e-6) and high == pytest.approx(ref_high, abs=1e-6)
    assert low <= (a.float() - b.float()).mean() <= high


def test_paired_bootstrap_defaults():
    g = torch.Generator().manual_seed(4)
    a, b = (torch.rand(2, 60, generator=g) < torch.tensor([[0.7], [0.5]])).long()
    default = paired_bootstrap_ci(a, b, generator=torch.Generator().manual_seed(0))
    explicit = paired_bootstrap_ci(a, b, 1000, 0.05, torch.Generator().manual_seed(0))
    assert default == explicit


def test_paired_bootstrap_identical_models_and_pairing():
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(300, generator=g) < 0.6).long()
    assert paired_bootstrap_ci(a, a.clone(), 100, 0.05, g) == (0.0, 0.0)
    # B = A with 12 items flipped to wrong: the paired interval is far narrower than resampling
    # the two models independently, which ignores that they succeed and fail on the same items.
    b = a.clone()
    b[torch.nonzero(a)[:12, 0]] = 0
    low, high = paired_bootstrap_ci(a, b, 2000, 0.05, torch.Generator().manual_seed(1))
    ia = torch.randint(0, 300, (2000, 300), generator=g)
    ib = torch.randint(0, 300, (2000, 300), generator=g)
    unpaired = a[ia].float().mean(1) - b[ib].float().mean(1)
    u_low, u_high = torch.quantile(unpaired, torch.tensor([0.025, 0.975])).tolist()
    assert 0 < low <= 12 / 300 <= high
    assert high - low < (u_high - u_low) / 2
    assert u_low < 0  # unpaired, the same gap looks insignificant


def test_paired_bootstrap_bad_inputs():
    x = torch.ones(4)
    with pytest.raises(ValueError, match="paired by item"):
        paired_bootstrap_ci(x, torch.ones(5))
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        paired_bootstrap_ci(x, x, alpha=1.0)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        paired_bootstrap_ci(x, x, alpha=0.0)


def test_mcnemar_exact_hand_computed():
    a = torch.tensor([1] * 10 + [0] * 2 + [1] * 5 + [0] * 3)
    b = torch.tensor([0] * 10 + [1] * 2 + [1] * 5 + [0] * 3)
    # b = 10, c = 2: p = 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096.
    assert mcnemar_exact(a, b) == (10, 2, pytest.approx(158 / 4096))
    assert mcnemar_exact(b, a) == (2, 10, pytest.approx(158 / 4096))  # symmetric


def test_mcnemar_ignores_concordant_items_and_caps_at_one():
    a, b = torch.tensor([1, 1, 1, 0]), torch.tensor([0, 0, 1, 1])
    more = mcnemar_exact(
        torch.cat([a, torch.ones(50), torch.zeros(50)]), torch.cat([b, torch.ones(50), torch.zeros(50)])
    )
    assert more == mcnemar_exact(a, b)
    assert mcnemar_exact(torch.tensor([1, 0, 1, 0]), torch.tensor([0, 1, 0, 1])) == (2, 2, 1.0)
    assert mcnemar_exact(torch.ones(5), torch.ones(5)) == (0, 0, 1.0)  # no discordant items


def test_mcnemar_bad_inputs():
    with pytest.raises(ValueError, match="paired by item"):
        mcnemar_exact(torch.ones(3), torch.ones(4))


def test_swap_debiased_verdicts_truth_table():
    ab = torch.tensor([True, False, True, False])
    ba = torch.tensor([False, True, True, False])
    # A first & judge says first, B first & judge says second -> A both times; the reverse -> B;
    # same slot twice -> tie.
    assert swap_debiased_verdicts(ab, ba).tolist() == [1, -1, 0, 0]
    with pytest.raises(ValueError, match="one verdict per order"):
        swap_debiased_verdicts(ab, ba[:3])


def test_swap_debiased_verdicts_of_an_unbiased_judge_are_consistent():
    g = torch.Generator().manual_seed(0)
    qa, qb = torch.randn(50, generator=g), torch.randn(50, generator=g)
    v = swap_debiased_verdicts(qa > qb, qb > qa)  # a judge that only looks at quality
    assert (v != 0).all()
    assert ((v == 1) == (qa > qb)).all()


def test_mrr_when_the_first_relevant_item_ranks_below_the_number_of_queries():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.1]])  # one query; its only relevant item is third
    relevant = torch.tensor([[False, False, True, False]])
    assert mean_reciprocal_rank(scores, relevant) == pytest.approx(1 / 3)
    assert (
        retrieval_recall_at_k(scores, relevant, 2) == 0.0
        and retrieval_recall_at_k(scores, relevant, 3) == 1.0
    )


def test_pope_with_equal_counts_of_hits_misses_and_false_alarms():
    # TP = FN = FP = 1, TN = 1: precision = recall = 1/2, so F1 = 1/2
    m = pope_metrics([True, False, True, False], [True, True, False, False])
    assert m == pytest.approx({"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "yes_ratio": 0.5})


def test_paired_bootstrap_can_draw_every_item():
    a, b = torch.tensor([1, 0, 0, 0, 0]), torch.zeros(5, dtype=torch.long)  # only item 0 differs
    low, high = paired_bootstrap_ci(a, b, 1000, 0.05, torch.Generator().manual_seed(0))
    assert low == 0.0 and high >= 1 / 5  # resamples that draw item 0 show a gap


def test_paired_bootstrap_default_draws_1000_resamples_of_n_items():
    a, b = torch.tensor([1, 0, 1, 1, 0, 1, 1]), torch.tensor([0, 0, 1, 0, 1, 1, 0])
    used, expected = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    paired_bootstrap_ci(a, b, generator=used)
    torch.randint(0, 7, (1000, 7), generator=expected)  # B = 1000 rows of n = 7 item indices
    assert torch.equal(torch.rand(3, generator=used), torch.rand(3, generator=expected))

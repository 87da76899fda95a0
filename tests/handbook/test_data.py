"""data: exact dedup, MinHash against exact Jaccard, LSH banding, n-gram contamination, mixture weights."""

import math

import pytest
import torch

from mllm_handbook.data import (
    MINHASH_PRIME,
    contaminated,
    exact_dedup,
    jaccard,
    lsh_candidate_pairs,
    lsh_candidate_probability,
    lsh_threshold,
    minhash_jaccard,
    minhash_signature,
    normalize,
    temperature_sampling_probs,
    word_ngrams,
)


def test_word_ngrams_and_normalize():
    assert normalize("  The  CAT\n sat ") == "the cat sat"
    assert word_ngrams("The cat sat on", 2) == {("the", "cat"), ("cat", "sat"), ("sat", "on")}
    assert word_ngrams("one two", 3) == set()
    assert word_ngrams("a b c", 3) == {("a", "b", "c")}  # exactly n words: one n-gram
    with pytest.raises(ValueError, match="n must be >= 1"):
        word_ngrams("a", 0)


def test_jaccard_hand_computed():
    assert jaccard({1, 2, 3}, {2, 3, 4, 5}) == pytest.approx(2 / 5)
    assert jaccard(set(), set()) == 0.0
    assert jaccard({1}, {1}) == 1.0


def test_exact_dedup_keeps_first_of_each_normalised_text():
    texts = ["Hello  world", "hello world", "other", "HELLO WORLD ", "other", "third"]
    assert exact_dedup(texts) == [0, 2, 5]


def test_minhash_signature_is_the_min_of_a_universal_hash():
    shingles = {("a", "b"), ("b", "c"), ("c", "d")}
    sig = minhash_signature(shingles, num_hashes=16, seed=3)
    assert sig.shape == (16,) and sig.dtype == torch.int64
    assert bool(((sig >= 0) & (sig < MINHASH_PRIME)).all())
    # Order-independent and deterministic; the default seed is 0.
    torch.testing.assert_close(sig, minhash_signature(set(sorted(shingles, reverse=True)), 16, seed=3))
    torch.testing.assert_close(minhash_signature(shingles, 16), minhash_signature(shingles, 16, seed=0))
    # A superset can only lower each minimum.
    assert bool((minhash_signature(shingles | {("x", "y")}, 16, seed=3) <= sig).all())


def test_minhash_estimate_is_close_to_exact_jaccard():
    a = {f"w{i}" for i in range(0, 300)}
    b = {f"w{i}" for i in range(100, 400)}  # J = 200 / 400 = 0.5
    k = 2000
    estimate = minhash_jaccard(minhash_signature(a, k, seed=1), minhash_signature(b, k, seed=1))
    std_err = math.sqrt(0.5 * 0.5 / k)
    assert abs(estimate - jaccard(a, b)) < 4 * std_err
    assert minhash_jaccard(minhash_signature(a, 64), minhash_signature(a, 64)) == 1.0


def test_minhash_errors():
    with pytest.raises(ValueError, match="empty set"):
        minhash_signature(set(), 8)
    with pytest.raises(ValueError, match="differ in shape"):
        minhash_jaccard(torch.zeros(4), torch.zeros(5))


def test_lsh_probability_formula_and_threshold():
    s = torch.tensor([0.0, 0.3, 0.5, 0.8, 1.0], dtype=torch.float64)
    expected = torch.tensor([1 - (1 - x**4) ** 10 for x in s.tolist()], dtype=torch.float64)
    torch.testing.assert_close(lsh_candidate_probability(s, bands=10, rows=4), expected)
    assert lsh_threshold(10, 4) == pytest.approx(10 ** (-1 / 4))
    # One band of r rows is s^r; r = 1 row per band is 1 - (1 - s)^b.
    torch.testing.assert_close(lsh_candidate_probability(s, 1, 3), s**3)
    torch.testing.assert_close(lsh_candidate_probability(s, 5, 1), 1 - (1 - s) ** 5)


def test_lsh_candidate_pairs_by_hand():
    sigs = torch.tensor(
        [
            [1, 2, 3, 4],
            [1, 2, 9, 9],  # shares band 0 with doc 0
            [7, 7, 3, 4],  # shares band 1 with doc 0
            [8, 8, 8, 8],  # shares nothing
        ]
    )
    assert lsh_candidate_pairs(sigs, bands=2, rows=2) == {(0, 1), (0, 2)}
    assert lsh_candidate_pairs(sigs, bands=1, rows=4) == set()
    with pytest.raises(ValueError, match="bands \\* rows"):
        lsh_candidate_pairs(sigs, bands=3, rows=2)


def test_contamination_flags_only_items_sharing_an_ngram():
    train = ["the quick brown fox jumps over the lazy dog near the river bank today"]
    tests = [
        "Quick brown fox jumps over the lazy dog",  # 8 words shared with train
        "a completely different sentence about cats",
        "tiny",
    ]
    assert contaminated(tests, train, n=8) == [True, False, False]
    assert contaminated(tests, train, n=9) == [False, False, False]
    assert contaminated(tests, train) == contaminated(tests, train, n=13)


def test_temperature_sampling():
    counts = torch.tensor([1000.0, 100.0, 10.0])
    torch.testing.assert_close(temperature_sampling_probs(counts, 1.0), (counts / counts.sum()).double())
    torch.testing.assert_close(
        temperature_sampling_probs(counts, 0.0), torch.full((3,), 1 / 3, dtype=torch.float64)
    )
    p = temperature_sampling_probs(counts, 0.3)
    expected = counts.double() ** 0.3 / (counts.double() ** 0.3).sum()
    torch.testing.assert_close(p, expected)
    assert p[2] > counts[2] / counts.sum()  # the smallest source is up-sampled
    with pytest.raises(ValueError, match="positive count"):
        temperature_sampling_probs(torch.tensor([3.0, 0.0]), 0.5)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        temperature_sampling_probs(counts, -0.1)

"""retrieval: chunking, BM25, dense and late-interaction scores, reciprocal-rank fusion, against the papers' formulas."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.retrieval import (
    bm25_scores,
    chunk_tokens,
    dense_scores,
    late_interaction_scores,
    reciprocal_rank_fusion,
)

# --- chunking ---------------------------------------------------------------------------------------


def test_chunk_tokens_hand_example():
    tokens = list("abcdefghij")
    assert chunk_tokens(tokens, 4, 1) == [list("abcd"), list("defg"), list("ghij")]
    assert chunk_tokens(tokens, 4, 0) == [list("abcd"), list("efgh"), list("ij")]
    assert chunk_tokens(tokens, 4, 3) == [list(tokens[i : i + 4]) for i in range(7)]
    assert chunk_tokens(list("abc"), 4, 2) == [list("abc")]  # shorter than one chunk


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 40), size=st.integers(1, 9), data=st.data())
def test_chunks_overlap_cover_and_keep_short_spans_whole(length, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    tokens = [f"t{i}" for i in range(length)]
    chunks = chunk_tokens(tokens, size, overlap)
    stride = size - overlap
    assert len(chunks) == max(1, math.ceil((length - overlap) / stride))
    assert all(len(c) <= size for c in chunks) and chunks[-1][-1] == tokens[-1]
    for left, right in itertools.pairwise(chunks):
        shared = [t for t in left if t in right]
        assert shared == left[len(left) - overlap :] == right[:overlap]
    # Dropping each chunk's overlap with its predecessor rebuilds the document.
    rebuilt = chunks[0] + [t for c in chunks[1:] for t in c[overlap:]]
    assert rebuilt == tokens
    # Every span of at most overlap + 1 tokens is whole inside some chunk.
    span = min(overlap + 1, length)
    for start in range(length - span + 1):
        piece = tokens[start : start + span]
        assert any(piece == c[i : i + span] for c in chunks for i in range(len(c)))


def test_chunk_tokens_bad_inputs_and_edges():
    with pytest.raises(ValueError, match="size must be >= 1"):
        chunk_tokens(list("abc"), 0, 0)
    with pytest.raises(ValueError, match=r"overlap must be in \[0, size\)"):
        chunk_tokens(list("abc"), 2, 2)
    with pytest.raises(ValueError, match=r"overlap must be in \[0, size\)"):
        chunk_tokens(list("abc"), 2, -1)
    assert chunk_tokens(list("abc"), 1, 0) == [["a"], ["b"], ["c"]]
    assert chunk_tokens(list("abc"), 2, 1) == [["a", "b"], ["b", "c"]]


# --- BM25 -------------------------------------------------------------------------------------------

DOCS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "chased", "the", "cat", "and", "the", "cat", "ran"],
    ["a", "bird", "sang"],
]


def bm25_reference(query, docs, k1, b):
    """Straight from Robertson & Zaragoza (2009), one document and one term at a time."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = []
    for d in docs:
        score = 0.0
        for t in set(query):
            n_t = sum(t in doc for doc in docs)
            idf = math.log(1 + (n - n_t + 0.5) / (n_t + 0.5))
            f = d.count(t)
            score += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(d) / avgdl))
        out.append(score)
    return torch.tensor(out, dtype=torch.float64)


def test_bm25_hand_computed():
    # avgdl = (6 + 9 + 3) / 3 = 6; "cat" is in 2 of 3 documents: IDF = ln(1 + 1.5 / 2.5) = ln 1.6.
    scores = bm25_scores(["cat"], DOCS)
    idf = math.log(1.6)
    doc0 = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 6 / 6))
    doc1 = idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 9 / 6))
    torch.testing.assert_close(scores, torch.tensor([doc0, doc1, 0.0], dtype=torch.float64))


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (2.0, 0.0), (0.5, 1.0)])
def test_bm25_matches_reference(k1, b):
    query = ["cat", "mat", "bird", "zebra", "cat"]  # a repeated term and one in no document
    torch.testing.assert_close(bm25_scores(query, DOCS, k1, b), bm25_reference(query, DOCS, k1, b))


def test_bm25_defaults_and_properties():
    query = ["cat", "dog"]
    torch.testing.assert_close(bm25_scores(query, DOCS), bm25_scores(query, DOCS, k1=1.2, b=0.75))
    # b = 0: no length normalisation, so one "cat" scores the same in a short and a long document.
    short_long = [["cat", "x"], ["cat"] + ["y"] * 20, ["z"]]
    no_norm = bm25_scores(["cat"], short_long, b=0.0)
    assert no_norm[0] == no_norm[1]
    assert bm25_scores(["cat"], short_long)[0] > bm25_scores(["cat"], short_long)[1]
    # Term frequency saturates at IDF * (k1 + 1) with b = 0.
    many = [["cat"] * 10**5, ["dog"]]
    saturated = math.log(1 + 1.5 / 1.5) * 2.2
    assert bm25_scores(["cat"], many, k1=1.2, b=0.0)[0] == pytest.approx(saturated, rel=1e-4)
    # A term in every document still has a small positive IDF.
    assert (bm25_scores(["the"], [["the"], ["the", "a"]]) > 0).all()


def test_bm25_bad_inputs():
    with pytest.raises(ValueError, match="k1 > 0"):
        bm25_scores(["cat"], DOCS, k1=0.0)
    with pytest.raises(ValueError, match="0 <= b <= 1"):
        bm25_scores(["cat"], DOCS, b=1.5)


# --- dense and late-interaction scores --------------------------------------------------------------


def test_dense_scores_are_cosine_similarities():
    g = torch.Generator().manual_seed(0)
    q, d = torch.randn(3, 8, generator=g), torch.randn(5, 8, generator=g)
    expected = F.cosine_similarity(q[:, None, :], d[None, :, :], dim=-1)
    torch.testing.assert_close(dense_scores(q, d), expected)
    torch.testing.assert_close(dense_scores(3 * q, 0.5 * d), expected)  # scale does not matter


def test_late_interaction_matches_loops():
    g = torch.Generator().manual_seed(1)
    q, d = torch.randn(2, 3, 4, generator=g), torch.randn(5, 7, 4, generator=g)
    expected = torch.tensor(
        [[sum(max(float(qi @ dj) for dj in d[n]) for qi in q[m]) for n in range(5)] for m in range(2)]
    )
    torch.testing.assert_close(late_interaction_scores(q, d), expected)
    # One vector per side: MaxSim is the plain inner product.
    torch.testing.assert_close(late_interaction_scores(q[:, :1], d[:, :1]), q[:, 0] @ d[:, 0].T)


def test_late_interaction_bad_shapes():
    with pytest.raises(ValueError, match=r"query \[Q, Lq, dim\]"):
        late_interaction_scores(torch.randn(3, 4), torch.randn(2, 5, 4))


# --- reciprocal-rank fusion -------------------------------------------------------------------------


def test_rrf_hand_computed_and_default_k():
    fused = reciprocal_rank_fusion([[3, 1, 2], [1, 4]], k=60)
    assert fused == pytest.approx({1: 1 / 62 + 1 / 61, 3: 1 / 61, 4: 1 / 62, 2: 1 / 63})
    assert list(fused) == [1, 3, 4, 2]  # in fused order
    assert reciprocal_rank_fusion([[3, 1, 2], [1, 4]]) == fused


def test_rrf_prefers_consensus_and_uses_only_ranks():
    # Doc 7 is second in both lists; doc 5 is first in one and absent from the other.
    assert next(iter(reciprocal_rank_fusion([[5, 7, 1], [2, 7, 3]]))) == 7
    scores_a = torch.tensor([0.2, 3.1, 1.7, 0.9])  # BM25-like scale
    scores_b = torch.tensor([0.81, 0.22, 0.64, 0.75])  # cosine scale
    rank = lambda s: torch.argsort(s, descending=True).tolist()  # noqa: E731
    fused = reciprocal_rank_fusion([rank(scores_a), rank(scores_b)])
    assert fused == reciprocal_rank_fusion([rank(1000 * scores_a), rank(scores_b)])


def test_rrf_bad_k_and_edge():
    with pytest.raises(ValueError, match="k must be >= 0"):
        reciprocal_rank_fusion([[1, 2]], k=-1)
    assert reciprocal_rank_fusion([[1, 2]], k=0) == {1: 1.0, 2: 0.5}

r"""Pre-training data hygiene: exact and near-duplicate removal, contamination checks, mixture sampling.

* Exact duplicates: hash a normalised text and keep the first document per hash.
* Near duplicates: MinHash (Broder, 1997) estimates the Jaccard similarity of two shingle sets from short
  signatures; banding the signatures (locality-sensitive hashing) finds the candidate pairs without
  comparing every pair (Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3).
* Contamination: flag a test item that shares a long word n-gram with the training data (GPT-3 used
  8- to 13-grams for its clean subsets; Brown et al., 2020, arXiv 2005.14165, Appendix C).
* Mixture: sample source $i$ with probability $\propto n_i^\alpha$ (mT5 uses $\alpha = 0.3$; Xue et al., 2021).

Hashes are from :mod:`hashlib` / :mod:`zlib`, not Python's ``hash``, which is salted per process.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict
from collections.abc import Sequence

import torch

from mllm_handbook._checks import check

#: The Mersenne prime $2^{31}-1$ of the hash family $h(x) = (ax + b) \bmod p$; products fit in int64.
MINHASH_PRIME = 2**31 - 1


def normalize(text: str) -> str:
    """Lower-case and collapse whitespace: the text that exact deduplication hashes."""
    return " ".join(text.lower().split())


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    r"""The set of word n-grams (shingles) of the normalised text; empty if it has fewer than $n$ words.

    Args:
        text: a document.
        n: n-gram length, $\ge 1$.

    Returns:
        ``{(w_i, ..., w_{i+n-1})}``.
    """
    check(n >= 1, f"n must be >= 1, got {n}")
    words = normalize(text).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    r"""Jaccard similarity $J(A, B) = |A \cap B| / |A \cup B|$ (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def exact_dedup(texts: Sequence[str]) -> list[int]:
    """Indices of the documents to keep: the first of each group with the same SHA-256 of :func:`normalize`."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(texts):
        digest = hashlib.sha256(normalize(text).encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            keep.append(i)
    return keep


def minhash_signature(shingles: set, num_hashes: int, seed: int = 0) -> torch.Tensor:
    r"""MinHash signature: for each of $k$ random hash functions, the minimum hash over the set (Broder, 1997).

    $$\mathrm{sig}_j(A) = \min_{x \in A} h_j(x),\qquad h_j(x) = (a_j x + b_j) \bmod p$$

    For one random $h$, $\Pr[\min h(A) = \min h(B)] = J(A, B)$, so the fraction of equal signature entries
    estimates the Jaccard similarity with standard error $\sqrt{J(1-J)/k}$. The same ``seed`` must be used
    for every document. Shingles are first mapped to integers with CRC-32.

    Args:
        shingles: a non-empty set of hashable shingles (strings or tuples of strings).
        num_hashes: $k$.
        seed: draws the coefficients $a_j \in [1, p)$, $b_j \in [0, p)$.

    Returns:
        ``[num_hashes]`` int64 signature.
    """
    check(len(shingles) > 0, "cannot sign an empty set: its minimum is undefined")
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(1, MINHASH_PRIME, (num_hashes, 1), generator=g)
    b = torch.randint(0, MINHASH_PRIME, (num_hashes, 1), generator=g)
    x = torch.tensor([zlib.crc32(repr(s).encode()) % MINHASH_PRIME for s in shingles])
    return ((a * x + b) % MINHASH_PRIME).amin(dim=1)


def minhash_jaccard(sig_a: torch.Tensor, sig_b: torch.Tensor) -> float:
    """Estimated Jaccard similarity: the fraction of positions where two MinHash signatures agree."""
    check(sig_a.shape == sig_b.shape, f"signatures differ in shape: {list(sig_a.shape)}, {list(sig_b.shape)}")
    return (sig_a == sig_b).double().mean().item()


def lsh_candidate_probability(similarity: torch.Tensor, bands: int, rows: int) -> torch.Tensor:
    r"""Probability that a pair with Jaccard similarity $s$ shares at least one of $b$ bands of $r$ rows.

    $$P(s) = 1 - (1 - s^r)^b$$

    A band matches with probability $s^r$ (all $r$ MinHash rows equal); the pair becomes a candidate if any
    of the $b$ independent bands matches. The S-curve is steepest near :func:`lsh_threshold`.

    Args:
        similarity: $s \in [0, 1]$, any shape.
        bands: $b$.
        rows: $r$ (the signature has $b \cdot r$ entries).

    Returns:
        $P(s)$, same shape.
    """
    return 1 - (1 - similarity**rows) ** bands


def lsh_threshold(bands: int, rows: int) -> float:
    r"""Approximate similarity where the banding S-curve rises: $t \approx (1/b)^{1/r}$."""
    return (1 / bands) ** (1 / rows)


def lsh_candidate_pairs(signatures: torch.Tensor, bands: int, rows: int) -> set[tuple[int, int]]:
    r"""Pairs of documents that land in the same bucket in at least one band.

    Args:
        signatures: ``[num_docs, bands * rows]`` MinHash signatures (one row per document).
        bands: $b$.
        rows: $r$.

    Returns:
        ``{(i, j)}`` with $i < j$: the candidates to verify with the exact Jaccard similarity.
    """
    check(signatures.shape[1] == bands * rows, f"need bands * rows = {bands * rows} signature columns")
    pairs = set()
    for band in range(bands):
        buckets = defaultdict(list)
        for doc, sig in enumerate(signatures[:, band * rows : (band + 1) * rows].tolist()):
            buckets[tuple(sig)].append(doc)
        for docs in buckets.values():
            pairs |= {(i, j) for k, i in enumerate(docs) for j in docs[k + 1 :]}
    return pairs


def contaminated(test_texts: Sequence[str], train_texts: Sequence[str], n: int = 13) -> list[bool]:
    r"""Flag each test item that shares at least one word n-gram with the training texts.

    $$\mathrm{flag}(x) = \left[\,\mathrm{ngrams}_n(x) \cap \textstyle\bigcup_{d} \mathrm{ngrams}_n(d) \ne \varnothing\,\right]$$

    GPT-3 (Brown et al., 2020, §4 and Appendix C) flagged "dirty" items this way and removed them to build
    a "clean" subset of each benchmark, with $n$ set per benchmark to the 5th percentile of its item length
    in words, at least 8 (non-synthetic tasks) and at most 13; before training it had also cut shared
    13-grams out of the training data. Items shorter than $n$ words have no n-gram and are never flagged.

    Args:
        test_texts: benchmark items.
        train_texts: training documents.
        n: n-gram length in words.

    Returns:
        One flag per test item.
    """
    train = set().union(*(word_ngrams(t, n) for t in train_texts))
    return [bool(word_ngrams(t, n) & train) for t in test_texts]


def temperature_sampling_probs(counts: torch.Tensor, alpha: float) -> torch.Tensor:
    r"""Mixture weights $p_i \propto n_i^\alpha$ over data sources (languages, domains, modalities).

    $$p_i = \frac{n_i^\alpha}{\sum_j n_j^\alpha}$$

    $\alpha = 1$ samples in proportion to size; $\alpha = 0$ is uniform; in between, small sources are
    up-sampled. mT5 uses $\alpha = 0.3$ over 101 languages (Xue et al., 2021).

    Args:
        counts: ``[num_sources]`` positive sizes $n_i$ (documents or tokens).
        alpha: $\alpha \ge 0$.

    Returns:
        ``[num_sources]`` probabilities.
    """
    check(bool((counts > 0).all()), "every source needs a positive count")
    check(alpha >= 0, f"alpha must be >= 0, got {alpha}")
    weights = counts.double() ** alpha
    return weights / weights.sum()

"""Dedup by hash and MinHash-LSH, an n-gram contamination check, mixing."""

import math
import random

import torch

from mllm_handbook.data import (
    contaminated,
    exact_dedup,
    jaccard,
    lsh_candidate_pairs,
    lsh_candidate_probability,
    lsh_threshold,
    minhash_jaccard,
    minhash_signature,
    temperature_sampling_probs,
    word_ngrams,
)
from mllm_handbook.figures import new_figure, show

torch.manual_seed(0)
rng = random.Random(0)
VOCAB = [f"w{i}" for i in range(400)]


def edit(words: list[str], fraction: float) -> list[str]:
    """Replace a ``fraction`` of the words at random positions."""
    out = list(words)
    for i in rng.sample(range(len(out)), round(fraction * len(out))):
        out[i] = rng.choice(VOCAB)
    return out


# 1. Exact duplicates: same SHA-256 after lower-casing and collapsing spaces.
docs = ["A cat sat.", "a  cat sat.", "A dog sat.", "A CAT SAT."]
keep = exact_dedup(docs)
print(f"exact dedup keeps {keep} of {len(docs)} documents")
assert keep == [0, 2]

# 2. MinHash (k = 128 hashes) vs exact Jaccard of word 3-gram sets.
K = 128
base = [rng.choice(VOCAB) for _ in range(300)]
print("edited | exact J | MinHash J | |error| / std")
for fraction in (0.02, 0.1, 0.3, 0.6):
    a = word_ngrams(" ".join(base), 3)
    b = word_ngrams(" ".join(edit(base, fraction)), 3)
    exact = jaccard(a, b)
    est = minhash_jaccard(minhash_signature(a, K), minhash_signature(b, K))
    std = math.sqrt(max(exact * (1 - exact), 1e-4) / K)
    print(
        f"{fraction:>6.0%} | {exact:>7.3f} | {est:>9.3f} | "
        f"{abs(est - exact) / std:>13.2f}"
    )
    assert abs(est - exact) < 3 * std

# 3. LSH banding: b bands of r rows, b * r = 100 hashes.
shapes = [(50, 2), (20, 5), (10, 10), (5, 20)]
s = torch.linspace(0, 1, 101, dtype=torch.float64)
fig, ax = new_figure(6.0, 2.8)
print(" b  |  r | threshold (1/b)^(1/r) | P(s=0.3) | P(s=0.8)")
for b, r in shapes:
    p = lsh_candidate_probability(s, b, r)
    t = lsh_threshold(b, r)
    print(f"{b:>3} | {r:>2} | {t:>20.3f} | {p[30]:>8.4f} | {p[80]:>8.4f}")
    ax.plot(s, p, label=f"b={b}, r={r} (t≈{t:.2f})")
    # The curve crosses 1 - (1 - 1/b)^b, about 1 - 1/e, at the threshold.
    at_t = lsh_candidate_probability(s.new_tensor(t), b, r).item()
    assert abs(at_t - (1 - (1 - 1 / b) ** b)) < 1e-9
p20_5 = lsh_candidate_probability(torch.tensor([0.3, 0.8]), 20, 5)
assert [round(x, 4) for x in p20_5.tolist()] == [0.0475, 0.9996]
assert round(lsh_threshold(20, 5), 3) == 0.549
ax.set_xlabel("Jaccard similarity s")
ax.set_ylabel("P(candidate pair)")
ax.legend(frameon=False, fontsize=8)
show(
    fig,
    alt="Four S-shaped curves of 1 - (1 - s^r)^b for 100 hashes: "
    "more rows per band move the threshold right and make the curve steeper.",
)

# Near duplicates in a small corpus: doc 1 edits 5 % of doc 0.
corpus = [base, edit(base, 0.05)] + [
    [rng.choice(VOCAB) for _ in range(300)] for _ in range(4)
]
sigs = torch.stack(
    [minhash_signature(word_ngrams(" ".join(d), 3), 100) for d in corpus]
)
pairs = lsh_candidate_pairs(sigs, bands=20, rows=5)
print(f"LSH candidate pairs (b=20, r=5): {sorted(pairs)}")
assert pairs == {(0, 1)}

# 4. Contamination: a test question planted inside a training document.
question = (
    "which planet in the solar system has the largest number of "
    "confirmed moons as of the latest survey"
)
train = [" ".join(base[:40]) + " " + question + " " + " ".join(base[40:80])]
tests = [
    question,
    "which planet is closest to the sun",
    " ".join(base[100:140]),
]
flags = contaminated(tests, train, n=13)
print(f"13-gram contamination flags: {flags}")
assert flags == [True, False, False]

# 5. Temperature sampling over sources of 10^9 ... 10^6 documents.
counts = torch.tensor([1e9, 1e8, 1e7, 1e6])
print("alpha | p(largest) | p(smallest) | smallest up-sampled")
share = counts / counts.sum()
for alpha in (1.0, 0.5, 0.3, 0.0):
    p = temperature_sampling_probs(counts, alpha)
    up = (p[-1] / share[-1]).item()
    print(f"{alpha:>5} | {p[0]:>10.3f} | {p[-1]:>11.4f} | {up:>18.1f}x")
p03 = temperature_sampling_probs(counts, 0.3)
p1 = temperature_sampling_probs(counts, 1.0)
assert round(p1[0].item(), 3) == 0.900 and round(p1[-1].item(), 4) == 0.0009
assert round(p03[0].item(), 3) == 0.532
assert math.isclose(p03[-1].item(), 0.0670, abs_tol=5e-5)
assert math.isclose((p03[-1] / share[-1]).item(), 74.5, abs_tol=0.05)

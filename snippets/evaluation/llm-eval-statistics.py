"""pass@k by enumeration, error bars, a paired test, a judge's position bias."""

import itertools
import math

import torch

from mllm_handbook.metrics import (
    accuracy_standard_error,
    mcnemar_exact,
    paired_bootstrap_ci,
    pass_at_k,
    swap_debiased_verdicts,
)

torch.manual_seed(0)

# 1. pass@k: the unbiased estimator equals the fraction of all k-subsets of the
#    n samples that contain a correct one; the plug-in 1 - (1 - c/n)^k does not.
n = 10
print(" c  k | unbiased | enumeration | plug-in 1-(1-c/n)^k")
for c, k in [(1, 1), (2, 5), (3, 5), (5, 5), (6, 5)]:
    subsets = list(itertools.combinations(range(n), k))  # samples 0..c-1 pass
    enum = sum(min(s) < c for s in subsets) / len(subsets)
    plug_in = 1 - (1 - c / n) ** k
    est = pass_at_k(n, c, k)
    print(f"{c:>2} {k:>2} | {est:8.4f} | {enum:11.4f} | {plug_in:8.4f}")
    assert math.isclose(est, enum, abs_tol=1e-12)
assert math.isclose(pass_at_k(10, 2, 5), 7 / 9)  # 0.778 vs plug-in 0.672
assert round(1 - 0.8**5, 3) == 0.672
assert pass_at_k(10, 6, 5) == 1.0  # n - c < k: every 5-subset passes
assert len(subsets) == math.comb(10, 5) == 252

# 2. Error bars: the standard error of an accuracy of 70 % on n items.
print("\n    n | accuracy | SE (points) | 95% interval")
se_points = {}
for n_items in [100, 1000, 10000]:
    correct = torch.zeros(n_items)
    correct[: int(0.7 * n_items)] = 1
    se = accuracy_standard_error(correct)
    se_points[n_items] = round(100 * se, 2)
    print(f"{n_items:>5} |     0.70 | {100 * se:11.2f} | ±{196 * se:.1f}")
assert se_points == {100: 4.58, 1000: 1.45, 10000: 0.46}  # 1/sqrt(n)

# 3. Two models on the same 400 items. A is right on 280; B loses 25 of them
#    and wins 10 that A misses: a 3.75-point gap from 35 discordant items.
a = torch.zeros(400)
a[:280] = 1
b = a.clone()
b[:25] = 0  # A right, B wrong
b[280:290] = 1  # A wrong, B right
gap = (a.mean() - b.mean()).item()
rng = torch.Generator().manual_seed(0)
low, high = paired_bootstrap_ci(a, b, generator=rng)
disc_b, disc_c, p_value = mcnemar_exact(a, b)
# Unpaired: treats the two accuracies as independent samples.
se_a, se_b = accuracy_standard_error(a), accuracy_standard_error(b)
half = 1.96 * math.hypot(se_a, se_b)
print(f"\naccuracy A {a.mean():.4f}, B {b.mean():.4f}, gap {100 * gap:.2f}")
print(f"paired bootstrap 95% CI  [{100 * low:.2f}, {100 * high:.2f}]")
lo_u, hi_u = 100 * (gap - half), 100 * (gap + half)
print(f"unpaired 95% CI          [{lo_u:.2f}, {hi_u:.2f}]")
print(f"McNemar exact: b={disc_b}, c={disc_c}, p={p_value:.4f}")
assert (disc_b, disc_c) == (25, 10) and round(p_value, 3) == 0.017
assert (round(100 * low, 1), round(100 * high, 1)) == (1.0, 6.5)
assert 0 < low < gap < high  # pairing: the gap is significant...
assert (round(lo_u, 1), round(hi_u, 1)) == (-2.7, 10.2)  # unpaired: crosses 0

# 4. A synthetic pairwise judge with position bias: it prefers the first slot
#    unless the second answer is better by more than `bias`.
quality_a, quality_b = torch.randn(1000), torch.randn(1000)
print("\nbias | first-slot picks | consistent after swap | A wins/ties/B wins")
consistency = []
for bias in [0.0, 0.5, 1.0]:
    ab_first = quality_a + bias >= quality_b  # A shown first
    ba_first = quality_b + bias >= quality_a  # B shown first
    verdict = swap_debiased_verdicts(ab_first, ba_first)
    first_rate = torch.cat([ab_first, ba_first]).float().mean().item()
    consistent = (verdict != 0).float().mean().item()
    counts = [(verdict == v).sum().item() for v in (1, 0, -1)]
    consistency.append(consistent)
    print(f"{bias:4.1f} | {first_rate:16.3f} | {consistent:20.3f} | {counts}")
    if bias == 0.0:
        assert consistent == 1.0 and first_rate == 0.5
    if bias == 0.5:
        assert (round(first_rate, 3), round(consistent, 2)) == (0.645, 0.71)
    # A win that survives the swap always goes to the truly better answer.
    assert (quality_a[verdict == 1] > quality_b[verdict == 1]).all()
    assert (quality_b[verdict == -1] > quality_a[verdict == -1]).all()
# The stronger the position bias, the fewer verdicts survive the swap.
assert consistency[0] > consistency[1] > consistency[2]

"""Speculative sampling keeps the target law; tokens per call and speed-up."""

import torch

from mllm_handbook.speculative import (
    acceptance_rate,
    expected_speedup,
    expected_tokens_per_call,
    residual_distribution,
    speculative_output_distribution,
    speculative_sample,
    speculative_step,
)

torch.manual_seed(0)
f64 = torch.float64

# 1. One step, exactly: accepted drafts give min(p, q), rejections give
#    (1 - beta) * residual, and the two add up to the target p.
p = torch.tensor([0.40, 0.25, 0.15, 0.10, 0.06, 0.04], dtype=f64)  # target
q = torch.tensor([0.20, 0.40, 0.05, 0.15, 0.15, 0.05], dtype=f64)  # draft
beta = acceptance_rate(p, q).item()
r = residual_distribution(p, q)
total = speculative_output_distribution(p, q)
print(f"acceptance rate beta = sum min(p, q) = {beta:.2f}")
print("token |    p |    q | min(p,q) | residual | min + (1-beta)*res")
for x in range(6):
    m = min(p[x], q[x]).item()
    row = f"{p[x]:.2f} | {q[x]:.2f} | {m:>8.2f} | {r[x]:>8.3f}"
    print(f"{x:>5} | {row} | {total[x]:>18.3f}")
assert abs(beta - 0.70) < 1e-12 and torch.allclose(total, p, rtol=0, atol=1e-15)
assert r.nonzero().flatten().tolist() == [0, 2]  # only where p > q

# Greedy decoding is the one-hot case: accept iff the argmaxes agree, and
# a rejected draft is replaced by the target's argmax.
hot = torch.eye(6, dtype=f64)
assert (
    acceptance_rate(hot[2], hot[2]) == 1
    and acceptance_rate(hot[2], hot[4]) == 0
)
assert torch.equal(residual_distribution(hot[2], hot[4]), hot[2])

# 2. Monte Carlo: 200,000 speculative samples against p. Each frequency has
#    standard error sqrt(p(1 - p) / n); allow 4.5 of them. Resampling from p
#    instead of the residual (a common mistake) misses by far more.
n = 200_000
freq = torch.bincount(speculative_sample(p, q, n), minlength=6) / n
tol = 4.5 * torch.sqrt(p * (1 - p) / n)
wrong = torch.minimum(p, q) + (1 - beta) * p
print("\ntoken |    p | sampled | |error| / tol | resample-from-p law")
for x in range(6):
    z = abs(freq[x] - p[x]) / tol[x]
    row = f"{p[x]:.2f} | {freq[x]:>7.4f} | {z:>13.2f} | {wrong[x]:>19.3f}"
    print(f"{x:>5} | {row}")
assert ((freq - p).abs() < tol).all()
assert (wrong - p).abs().max() > 10 * tol.max()
assert round(wrong[0].item(), 3) == 0.32 and round(wrong[1].item(), 3) == 0.325

# 3. Tokens per target call with gamma = 4 drafts: 20,000 verification steps
#    against (1 - a^(g+1)) / (1 - a). Here p and q are the same at every
#    position, so acceptances are i.i.d. and the formula is the exact mean.
#    A call emits 1..gamma+1 tokens, so its standard deviation is at most
#    gamma / 2: the assert allows 4 times that bound over sqrt(n).
gamma, trials = 4, 20_000
drafts = torch.multinomial(q, trials * gamma, replacement=True)
drafts = drafts.reshape(trials, gamma)
ps, qs = p.expand(trials, gamma + 1, 6), q.expand(trials, gamma, 6)
accepted, _ = speculative_step(ps, qs, drafts)
tokens = (accepted + 1).double()
mean, se = tokens.mean().item(), tokens.std().item() / trials**0.5
formula = expected_tokens_per_call(beta, gamma)
z = (mean - formula) / se
print(f"\ntokens per target call: simulated {mean:.3f}, formula {formula:.4f}")
print(f"standard error {se:.3f}; seed 0 lands {z:.1f} standard errors off")
assert abs(mean - formula) < 4 * (gamma / 2) / trials**0.5
assert (round(formula, 4), round(mean, 3)) == (2.7731, 2.746)
assert round(se, 3) == 0.011 and round(z, 1) == -2.5  # this seed's draw

# 4. Expected speed-up (1 - a^(g+1)) / ((1 - a)(g c + 1)) for draft cost c,
#    and the best gamma (searched over 1..40).
gammas, best = [1, 2, 3, 4, 6, 8, 10], {}
for c in (0.05, 0.1):
    print(f"\nc = {c}: alpha | " + " ".join(f"g={g:<3}" for g in gammas))
    for a in (0.5, 0.6, 0.7, 0.8, 0.9):
        cells = " ".join(f"{expected_speedup(a, g, c):5.2f}" for g in gammas)
        best[a, c] = max(range(1, 41), key=lambda g: expected_speedup(a, g, c))
        top = expected_speedup(a, best[a, c], c)
        print(f"{'':10}{a:5.1f} | {cells}  best g = {best[a, c]} ({top:.2f})")
    order = [best[a, c] for a in (0.5, 0.6, 0.7, 0.8, 0.9)]
    assert order == sorted(order)  # better drafts: speculate further
assert all(best[a, 0.1] <= best[a, 0.05] for a in (0.5, 0.6, 0.7, 0.8, 0.9))
assert best[0.8, 0.05] == 8 and round(expected_speedup(0.8, 8, 0.05), 2) == 3.09
for a in (0.02, 0.05, 0.1, 0.3, 0.9):  # a gain exists exactly when a > c
    for c in (0.05, 0.1):
        gain = max(expected_speedup(a, g, c) for g in range(1, 41)) > 1
        assert gain == (a > c)
        assert abs(expected_speedup(a, 1, c) - (1 + a) / (1 + c)) < 1e-12

# Leviathan et al.'s T5-XXL numbers: a bigram draft (alpha ~ 0.2, c = 0) at
# gamma = 3 predicts 1.25x; T5-small (alpha = 0.75, gamma = 7) at most 3.60x
# with c = 0. With the c of their Table 4 (profiler estimates), the formula
# gives that table's expected column for the EnDe greedy rows.
bigram, small = expected_speedup(0.2, 3, 0.0), expected_speedup(0.75, 7, 0.0)
print(f"\nbigram draft: {bigram:.2f}x; T5-small draft, c = 0: {small:.2f}x")
assert round(bigram, 2) == 1.25 and round(small, 2) == 3.60
print("EnDe, greedy, gamma = 7 (Leviathan et al., Table 4):")
print("draft    | alpha |    c | formula | measured")
table4 = [("T5-small", 0.75, 0.02, 3.4), ("T5-base", 0.80, 0.04, 2.8)]
table4 += [("T5-large", 0.82, 0.11, 1.7)]
for name, a, c, measured in table4:
    s = expected_speedup(a, 7, c)
    print(f"{name:<8} | {a:5.2f} | {c:4.2f} | {s:6.2f}x | {measured:7.1f}x")
exp = [round(expected_speedup(a, 7, c), 1) for _, a, c, _ in table4]
assert exp == [3.2, 3.3, 2.5]  # Table 4, "Exp"

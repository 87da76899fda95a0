"""Test-time scaling by voting and verifiers; a rule-based verifiable reward."""

import itertools
import math

import torch

from mllm_handbook.reasoning import (
    best_of_n_accuracy,
    extract_answer,
    majority_vote_accuracy,
    verifiable_reward,
)

torch.manual_seed(0)

# 1. Majority vote over N independent samples, two possible answers.
ns = [1, 3, 5, 9, 17, 33, 65]
print("p \\ N " + "".join(f"{n:>7}" for n in ns))
for p in (0.3, 0.45, 0.55, 0.7):
    accs = [majority_vote_accuracy(p, n) for n in ns]
    print(f"{p:<6}" + "".join(f"{a:>7.3f}" for a in accs))
    rising = all(b > a for a, b in itertools.pairwise(accs))
    falling = all(b < a for a, b in itertools.pairwise(accs))
    assert rising if p > 0.5 else falling
assert all(math.isclose(majority_vote_accuracy(0.5, n), 0.5) for n in ns)
assert round(majority_vote_accuracy(0.7, 9), 3) == 0.901
assert majority_vote_accuracy(0.7, 65) > 0.999
assert round(majority_vote_accuracy(0.3, 33), 3) == 0.008
# An even N adds nothing: a tie is a coin flip.
assert math.isclose(
    majority_vote_accuracy(0.7, 4), majority_vote_accuracy(0.7, 3)
)
votes = (torch.rand(100_000, 9) < 0.55).sum(dim=1)  # Monte Carlo check
assert abs((votes >= 5).float().mean() - majority_vote_accuracy(0.55, 9)) < 0.01


# 2. With many possible answers, what matters is how the wrong ones spread.
def plurality_accuracy(probs, n, trials=20_000):
    """Answer 0 is right; sample n answers per question, take the plurality."""
    samples = torch.multinomial(probs, trials * n, replacement=True)
    counts = torch.nn.functional.one_hot(samples.view(trials, n), len(probs))
    noisy = counts.sum(dim=1) + 0.1 * torch.rand(trials, len(probs))  # ties
    return (noisy.argmax(dim=1) == 0).float().mean().item()


scattered = torch.tensor([0.35] + [0.065] * 10)  # ten different mistakes
common = torch.tensor([0.35, 0.5] + [0.01875] * 8)  # one popular mistake
print(f"{'N':<12}" + "".join(f"{n:>6}" for n in (1, 5, 33)))
for name, probs in (("scattered", scattered), ("one common", common)):
    accs = [plurality_accuracy(probs, n) for n in (1, 5, 33)]
    print(f"{name:<12}" + "".join(f"{a:>6.2f}" for a in accs))
    assert abs(accs[0] - 0.35) < 0.02
    assert accs[2] > 0.9 if name == "scattered" else accs[2] < accs[0] - 0.1
    assert round(accs[2], 2) == (0.98 if name == "scattered" else 0.17)

# 3. Best-of-N with an imperfect verifier: p = 0.3, tpr 0.9, fpr 0.1.
p, tpr, fpr = 0.3, 0.9, 0.1
precision = p * tpr / (p * tpr + (1 - p) * fpr)
print(f"{'N':<10}" + "".join(f"{n:>6}" for n in (1, 4, 16, 64, 256)))
rows = {
    "best-of-N": [
        best_of_n_accuracy(p, n, tpr, fpr) for n in (1, 4, 16, 64, 256)
    ],
    "majority": [majority_vote_accuracy(p, n) for n in (1, 4, 16, 64, 256)],
    "pass@N": [1 - (1 - p) ** n for n in (1, 4, 16, 64, 256)],
}
for name, accs in rows.items():
    print(f"{name:<10}" + "".join(f"{a:>6.3f}" for a in accs))
print(f"verifier precision p*tpr / (p*tpr + (1-p)*fpr) = {precision:.3f}")
assert math.isclose(rows["best-of-N"][-1], precision, rel_tol=1e-6)
assert rows["majority"][-1] < 0.01 < rows["best-of-N"][0] < precision
assert round(precision, 3) == 0.794
assert math.isclose(rows["best-of-N"][0], p)  # N = 1: no choice
right = torch.rand(50_000, 16) < p  # Monte Carlo check of N = 16
accepted = torch.rand(50_000, 16) < torch.where(right, tpr, fpr)
pick = (accepted.float() + torch.rand(50_000, 16)).argmax(dim=1)
simulated = right[torch.arange(50_000), pick].float().mean().item()
assert abs(simulated - rows["best-of-N"][2]) < 0.01

# 4. A rule-based verifiable reward: format check plus answer check.
completions = [
    "<think>6 * 7 = 42</think> <answer>42</answer>",
    "<think>6 * 7 = 42</think> <answer>84/2</answer>",
    "<think>6 * 7 = 41</think> <answer>41</answer>",
    "6 * 7 = 42, so the answer is 42.",
    "<think>42 or 41?</think> <answer>41</answer> <answer>42</answer>",
]
expected = [1.1, 1.1, 0.1, 0.0, 0.0]
for text, want in zip(completions, expected, strict=True):
    reward = verifiable_reward(text, reference="42")
    print(f"{reward:.1f}  {text}")
    assert math.isclose(reward, want)
answers = [extract_answer(c) for c in completions]
assert answers == ["42", "84/2", "41", None, None]

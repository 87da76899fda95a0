"""Bradley-Terry reward model: loss, rankings, a fit, and best-of-n."""

import itertools
import math

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.preference import ranking_loss, reward_model_loss

torch.manual_seed(0)

# 1. The loss -log sigma(r_w - r_l) sees only the difference of the rewards.
r_w, r_l = torch.tensor([2.0, 0.3, -1.0]), torch.tensor([0.5, 0.8, -3.0])
loss = reward_model_loss(r_w, r_l).item()
by_hand = sum(math.log(1 + math.exp(-d)) for d in (1.5, -0.5, 2.0)) / 3
assert math.isclose(loss, by_hand, rel_tol=1e-6)
first = reward_model_loss(r_w[:1], r_l[:1]).item()  # one pair: 2.0 vs 0.5
assert math.isclose(first, math.log(1 + math.exp(-1.5)), rel_tol=1e-6)
c = torch.tensor([7.0, -3.0, 0.5])  # any constant per prompt, even
shifted = reward_model_loss(r_w + c, r_l + c).item()
assert math.isclose(shifted, loss, rel_tol=1e-6)
print(f"loss of 2.0 vs 0.5: {first:.4f}")
print(f"mean loss of 3 pairs: {loss:.4f}; each prompt shifted: {shifted:.4f}")

# 2. A ranking of K responses gives C(K, 2) pairs; the loss averages them.
print("    K: " + " ".join(f"{k:>3}" for k in range(2, 10)))
print("pairs: " + " ".join(f"{math.comb(k, 2):>3}" for k in range(2, 10)))
ranked = torch.tensor([[1.5, 0.9, 0.2, -0.4]])  # rewards, best response first
by_pair = [
    reward_model_loss(ranked[:, i], ranked[:, j])
    for i in range(4)
    for j in range(i + 1, 4)
]
assert len(by_pair) == 6
assert torch.isclose(ranking_loss(ranked), torch.stack(by_pair).mean())


# 3. Synthetic raters: a hidden reward, preferences drawn by Bradley-Terry.
# Feature 4 is like length: it helps up to a point (optimum at 1/0.7).
def hidden_reward(x):
    return 0.25 * x[..., :4].sum(-1) + x[..., 4] - 0.35 * x[..., 4] ** 2


def rate(pairs):
    """`pairs` comparisons by the synthetic raters: (chosen, rejected)."""
    a, b = torch.randn(2, pairs, 5)
    p_a = torch.sigmoid(hidden_reward(a) - hidden_reward(b))
    a_wins = (torch.rand(pairs) < p_a)[:, None]
    return torch.where(a_wins, a, b), torch.where(a_wins, b, a)


def fit_linear_rm(chosen, rejected, steps=60, lr=2.0):
    """A linear reward model r(x) = w.x, gradient descent on the BT loss."""
    w = torch.zeros(5, requires_grad=True)
    for _ in range(steps):
        loss = reward_model_loss(chosen @ w, rejected @ w)
        (grad,) = torch.autograd.grad(loss, w)
        w.data -= lr * grad
    return w.detach()


rms = {
    "100 pairs": fit_linear_rm(*rate(100)),
    "2000 pairs": fit_linear_rm(*rate(2000)),
}
a, b = torch.randn(2, 4000, 5)  # held-out pairs
truth = hidden_reward(a) > hidden_reward(b)
label = torch.rand(4000) < torch.sigmoid(hidden_reward(a) - hidden_reward(b))
agree = {"rater labels": (label == truth).float().mean().item()}
for name, w in rms.items():
    agree[f"linear RM, {name}"] = (
        ((a @ w > b @ w) == truth).float().mean().item()
    )
for name, value in agree.items():
    print(f"{name:>24}: {value:.3f} of held-out pairs in the hidden order")
assert round(agree["rater labels"], 3) == 0.738  # noisy: BT labels
assert round(agree["linear RM, 100 pairs"], 3) == 0.900
assert round(agree["linear RM, 2000 pairs"], 3) == 0.936
# Scored against held-out *labels* (as real RM accuracy is), the noise caps
# everyone: even the hidden reward itself only matches 0.738 of them.
vs_labels = {
    n: ((a @ w > b @ w) == label).float().mean().item() for n, w in rms.items()
}
print(
    f"against noisy labels: RMs {vs_labels['100 pairs']:.3f}, "
    f"{vs_labels['2000 pairs']:.3f}; hidden reward {agree['rater labels']:.3f}"
)
assert round(vs_labels["100 pairs"], 3) == 0.720
assert round(vs_labels["2000 pairs"], 3) == 0.729
assert max(vs_labels.values()) < agree["rater labels"]
# Both RMs weight feature 4 ("length") most: a linear RM says longer is better.
assert all(w.argmax() == 4 for w in rms.values())

# 4. Best-of-n: pick the highest-scoring of n responses, for 300 prompts.
ns = [1, 4, 16, 64, 256, 1024]
pool = torch.randn(300, ns[-1], 5)  # best-of-n looks at the first n
rows = []
print("    n  KL_bon | proxy(100) hidden(100) hidden(2000) hidden(oracle)")
for n in ns:
    x = pool[:, :n]
    row = [(x @ rms["100 pairs"]).max(dim=1).values.mean().item()]
    for score in (
        x @ rms["100 pairs"],
        x @ rms["2000 pairs"],
        hidden_reward(x),
    ):
        best = x[torch.arange(300), score.argmax(dim=1)]
        row.append(hidden_reward(best).mean().item())
    rows.append(row)
    kl = math.log(n) - (n - 1) / n  # KL(best-of-n || policy), Gao et al.
    print(f"{n:>5} {kl:>7.2f} | " + " ".join(f"{v:>10.2f}" for v in row))
proxy, by_small, by_big, oracle = zip(*rows, strict=True)
assert all(q > p for p, q in itertools.pairwise(proxy))  # the proxy only rises
assert all(q > p for p, q in itertools.pairwise(oracle))  # so does the oracle
for hidden in (by_small, by_big):  # the hidden reward peaks, then falls
    peak = max(range(len(ns)), key=hidden.__getitem__)
    assert ns[peak] in (16, 64) and hidden[-1] < hidden[peak] - 0.1
assert by_small[-1] < max(by_small) / 2 and oracle[-1] > 2

fig, ax = new_figure(6.0, 2.8)
x = range(len(ns))  # evenly spaced: n grows 4x per step
ax.plot(x, proxy, ls="--", marker="o", label="proxy score, RM on 100 pairs")
ax.plot(x, by_small, marker="o", label="hidden reward, RM on 100 pairs")
ax.plot(x, by_big, marker="o", label="hidden reward, RM on 2000 pairs")
ax.plot(x, oracle, marker="o", color="gray", label="hidden reward, oracle")
ax.set_xticks(x, [str(n) for n in ns])
ax.set_xlabel("n (best-of-n)")
ax.set_ylabel("mean reward of the pick")
ax.legend(frameon=False, fontsize=8)
show(
    fig,
    alt="Best-of-n against a linear proxy reward model: the proxy score rises "
    "with n, while the hidden reward of the chosen response peaks at a "
    "moderate n and then falls; choosing by the hidden reward keeps rising.",
)

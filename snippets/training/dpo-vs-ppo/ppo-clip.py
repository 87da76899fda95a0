"""PPO's clipped surrogate caps the gain on the favourable side of the ratio."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.preference import ppo_clip_loss

# The objective min(r A, clip(r, 1 - eps, 1 + eps) A) for A = +1 and A = -1,
# at ratios r = pi / pi_old from 0.5 to 1.5.
eps = 0.2
ratios = torch.linspace(0.5, 1.5, 11)


def objective(advantage: float) -> torch.Tensor:
    """The per-sample clipped surrogate (the negated loss) at each ratio."""
    adv, old_logp = torch.tensor([advantage]), torch.zeros(1)
    per_ratio = [
        -ppo_clip_loss(r.log()[None], old_logp, adv, eps) for r in ratios
    ]
    return torch.stack(per_ratio)


pos, neg = objective(1.0), objective(-1.0)
print(" ratio | objective A=+1 | objective A=-1")
for r, p, n in zip(ratios.tolist(), pos.tolist(), neg.tolist(), strict=True):
    print(f"{r:>6.1f} | {p:>14.2f} | {n:>14.2f}")
# A > 0: capped above at 1 + eps; A < 0: capped at -(1 - eps).
assert torch.allclose(pos, torch.minimum(ratios, torch.tensor(1 + eps)))
assert torch.allclose(neg, -torch.maximum(ratios, torch.tensor(1 - eps)))

fig, axes = new_figure(6.4, 2.6, ncols=2)
for ax, values, sign, title in [
    (axes[0], pos, 1, "A > 0"),
    (axes[1], neg, -1, "A < 0"),
]:
    ax.plot(ratios, sign * ratios, ":", color="gray", label="r·A (unclipped)")
    ax.plot(ratios, values, marker="o", markersize=3, label="PPO clipped")
    for edge in (1 - eps, 1 + eps):
        ax.axvline(edge, color="gray", linewidth=0.6)
    ax.set_title(title)
    ax.set_xlabel("probability ratio r")
axes[0].set_ylabel("objective (maximised)")
axes[0].legend(frameon=False, fontsize=8)
show(
    fig,
    alt="PPO clipped objective versus the probability ratio: for a positive "
    "advantage it is flat above 1.2; for a negative advantage it is flat below "
    "0.8; elsewhere it equals ratio times advantage.",
)

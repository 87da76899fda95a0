"""DPO loss and implicit reward; PPO's clipped surrogate for positive and negative advantages (page: training/dpo-vs-ppo)."""

import math

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.preference import dpo_implicit_reward, dpo_loss, ppo_clip_loss

torch.manual_seed(0)

# 1. DPO at initialisation: policy = reference, so every log-ratio is 0 and the loss is log 2.
ref_chosen, ref_rejected = -torch.rand(4) * 20, -torch.rand(4) * 20  # sequence log-probs
policy_chosen, policy_rejected = ref_chosen.clone(), ref_rejected.clone()
loss0 = dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=0.1)
assert math.isclose(loss0.item(), math.log(2), rel_tol=1e-6)
print(f"DPO loss at init = {loss0.item():.4f} (log 2 = {math.log(2):.4f})")

# 2. The loss only sees the margin of implicit rewards beta * log(pi / pi_ref), chosen minus rejected.
print(" log-ratio chosen | log-ratio rejected | reward margin | DPO loss")
for up, down in [(0.0, 0.0), (1.0, 0.0), (1.0, -1.0), (5.0, -5.0), (-2.0, -12.0), (-2.0, 0.0)]:
    pc, pr = ref_chosen + up, ref_rejected + down
    margin = (dpo_implicit_reward(pc, ref_chosen) - dpo_implicit_reward(pr, ref_rejected)).mean()
    loss = dpo_loss(pc, pr, ref_chosen, ref_rejected, beta=0.1)
    print(f"{up:>17.1f} | {down:>18.1f} | {margin.item():>13.2f} | {loss.item():.4f}")
# Both log-probs can fall and the loss still drops, as long as the rejected one falls faster.
assert dpo_loss(ref_chosen - 2, ref_rejected - 12, ref_chosen, ref_rejected) < loss0

# 3. PPO: the clipped objective min(r A, clip(r, 1-eps, 1+eps) A) for A = +1 and A = -1.
eps = 0.2
ratios = torch.linspace(0.5, 1.5, 11)
zeros = torch.zeros(11)


def objective(advantage: float) -> torch.Tensor:
    """Per-sample clipped surrogate (the negated loss) at each ratio."""
    return torch.stack(
        [-ppo_clip_loss(r.log()[None], zeros[:1], torch.tensor([advantage]), eps) for r in ratios]
    )


pos, neg = objective(1.0), objective(-1.0)
print(" ratio | objective A=+1 | objective A=-1")
for r, p, n in zip(ratios.tolist(), pos.tolist(), neg.tolist(), strict=True):
    print(f"{r:>6.1f} | {p:>14.2f} | {n:>14.2f}")
assert torch.allclose(pos, torch.minimum(ratios, torch.tensor(1 + eps)))  # A > 0: capped above at 1 + eps
assert torch.allclose(neg, -torch.maximum(ratios, torch.tensor(1 - eps)))  # A < 0: capped at -(1 - eps)

fig, axes = new_figure(6.4, 2.6, ncols=2)
for ax, values, title in [(axes[0], pos, "A > 0"), (axes[1], neg, "A < 0")]:
    ax.plot(
        ratios, ratios * (1 if title == "A > 0" else -1), linestyle=":", color="gray", label="r·A (unclipped)"
    )
    ax.plot(ratios, values, marker="o", markersize=3, label="PPO clipped objective")
    for edge in (1 - eps, 1 + eps):
        ax.axvline(edge, color="gray", linewidth=0.6)
    ax.set_title(title)
    ax.set_xlabel("probability ratio r")
axes[0].set_ylabel("objective (maximised)")
axes[0].legend(frameon=False, fontsize=8)
show(
    fig,
    alt="PPO clipped objective versus the probability ratio: for a positive advantage it is flat above 1.2; "
    "for a negative advantage it is flat below 0.8; elsewhere it equals ratio times advantage.",
)

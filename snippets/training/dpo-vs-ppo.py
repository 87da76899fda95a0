"""DPO loss and implicit reward; PPO's clipped surrogate for positive and negative advantages (page: training/dpo-vs-ppo)."""

import math

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.preference import (
    dpo_implicit_reward,
    dpo_loss,
    gae_advantages,
    ppo_clip_loss,
    rlhf_memory_bytes,
)

torch.manual_seed(0)

# 1. DPO at initialisation: policy = reference, so every log-ratio is 0 and the loss is log 2.
ref_chosen, ref_rejected = (
    -torch.rand(4) * 20,
    -torch.rand(4) * 20,
)  # sequence log-probs
policy_chosen, policy_rejected = ref_chosen.clone(), ref_rejected.clone()
loss0 = dpo_loss(
    policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=0.1
)
assert math.isclose(loss0.item(), math.log(2), rel_tol=1e-6)
print(f"DPO loss at init = {loss0.item():.4f} (log 2 = {math.log(2):.4f})")

# 2. The loss only sees the margin of implicit rewards beta * log(pi / pi_ref), chosen minus rejected.
print(" log-ratio chosen | log-ratio rejected | reward margin | DPO loss")
for up, down in [
    (0.0, 0.0),
    (1.0, 0.0),
    (1.0, -1.0),
    (5.0, -5.0),
    (-2.0, -12.0),
    (-2.0, 0.0),
]:
    pc, pr = ref_chosen + up, ref_rejected + down
    margin = (
        dpo_implicit_reward(pc, ref_chosen)
        - dpo_implicit_reward(pr, ref_rejected)
    ).mean()
    loss = dpo_loss(pc, pr, ref_chosen, ref_rejected, beta=0.1)
    print(
        f"{up:>17.1f} | {down:>18.1f} | {margin.item():>13.2f} | {loss.item():.4f}"
    )
# Both log-probs can fall and the loss still drops, as long as the rejected one falls faster.
assert (
    dpo_loss(ref_chosen - 2, ref_rejected - 12, ref_chosen, ref_rejected)
    < loss0
)

# 3. PPO: the clipped objective min(r A, clip(r, 1-eps, 1+eps) A) for A = +1 and A = -1.
eps = 0.2
ratios = torch.linspace(0.5, 1.5, 11)
zeros = torch.zeros(11)


def objective(advantage: float) -> torch.Tensor:
    """Per-sample clipped surrogate (the negated loss) at each ratio."""
    return torch.stack(
        [
            -ppo_clip_loss(
                r.log()[None], zeros[:1], torch.tensor([advantage]), eps
            )
            for r in ratios
        ]
    )


pos, neg = objective(1.0), objective(-1.0)
print(" ratio | objective A=+1 | objective A=-1")
for r, p, n in zip(ratios.tolist(), pos.tolist(), neg.tolist(), strict=True):
    print(f"{r:>6.1f} | {p:>14.2f} | {n:>14.2f}")
assert torch.allclose(
    pos, torch.minimum(ratios, torch.tensor(1 + eps))
)  # A > 0: capped above at 1 + eps
assert torch.allclose(
    neg, -torch.maximum(ratios, torch.tensor(1 - eps))
)  # A < 0: capped at -(1 - eps)

fig, axes = new_figure(6.4, 2.6, ncols=2)
for ax, values, title in [(axes[0], pos, "A > 0"), (axes[1], neg, "A < 0")]:
    ax.plot(
        ratios,
        ratios * (1 if title == "A > 0" else -1),
        linestyle=":",
        color="gray",
        label="r·A (unclipped)",
    )
    ax.plot(
        ratios, values, marker="o", markersize=3, label="PPO clipped objective"
    )
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

# 4. GAE: the value model turns one end-of-response score into per-token
# advantages. Rewards: -beta * log-ratio on every token (the KL penalty folded
# into the reward) plus the reward-model score 1.0 on the last token.
log_ratio = torch.tensor([0.2, -0.1, 0.3, 0.1, 0.1])
rewards = -0.1 * log_ratio
rewards[-1] += 1.0
values = torch.tensor([0.3, 0.4, 0.5, 0.7, 0.9])  # the critic's V(s_t)
returns = rewards.flip(0).cumsum(0).flip(0)  # gamma = 1, as in InstructGPT
print(" token | reward | V(s_t) | A (lam=0) | A (lam=0.95) | A (lam=1)")
adv = {lam: gae_advantages(rewards, values, 1.0, lam) for lam in (0, 0.95, 1)}
for t in range(5):
    print(
        f"{t:>6} | {rewards[t]:>6.2f} | {values[t]:>6.2f} | {adv[0][t]:>9.3f}"
        f" | {adv[0.95][t]:>12.3f} | {adv[1][t]:>9.3f}"
    )
next_values = torch.cat([values[1:], torch.zeros(1)])
assert torch.allclose(adv[0], rewards + next_values - values)  # one-step TD
assert torch.allclose(adv[1], returns - values)  # Monte Carlo return - V

# 5. Memory for weights and optimiser state (no activations, no sharding):
# trained models 16 bytes/param (mixed-precision AdamW), frozen ones 2.
setups = {
    "PPO, four 7B models": dict(
        policy=7e9, reference=7e9, reward=7e9, value=7e9
    ),
    "DPO, 7B": dict(policy=7e9, reference=7e9),
    "GRPO, 7B, rule reward": dict(policy=7e9, reference=7e9),
    "InstructGPT PPO (175B, 6B RM/value)": dict(
        policy=175e9, reference=175e9, reward=6e9, value=6e9
    ),
}
print(f"{'setup':<36} | policy | ref | reward | value | total GB")
totals = {}
for name, counts in setups.items():
    gb = {k: v / 1e9 for k, v in rlhf_memory_bytes(**counts).items()}
    totals[name] = gb["total"]
    print(
        f"{name:<36} | {gb['policy']:>6.0f} | {gb['reference']:>3.0f}"
        f" | {gb['reward']:>6.0f} | {gb['value']:>5.0f} | {gb['total']:>8.0f}"
    )
assert totals["PPO, four 7B models"] == 252
assert totals["DPO, 7B"] == totals["GRPO, 7B, rule reward"] == 126
assert totals["InstructGPT PPO (175B, 6B RM/value)"] == 3258

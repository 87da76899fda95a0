"""GAE spreads one end-of-response score over the tokens; lambda trades bias."""

import torch

from mllm_handbook.preference import gae_advantages

# Rewards: -beta * log-ratio on every token (the KL penalty folded into the
# reward, beta = 0.1) plus the reward-model score 1.0 on the last token.
log_ratio = torch.tensor([0.2, -0.1, 0.3, 0.1, 0.1])
rewards = -0.1 * log_ratio
rewards[-1] += 1.0
values = torch.tensor([0.3, 0.4, 0.5, 0.7, 0.9])  # the critic's V(s_t)
returns = rewards.flip(0).cumsum(0).flip(0)  # gamma = 1, as in InstructGPT

adv = {lam: gae_advantages(rewards, values, 1.0, lam) for lam in (0, 0.95, 1)}
print(" token | reward | V(s_t) | A (lam=0) | A (lam=0.95) | A (lam=1)")
for t in range(5):
    print(
        f"{t:>6} | {rewards[t]:>6.2f} | {values[t]:>6.2f} | {adv[0][t]:>9.3f}"
        f" | {adv[0.95][t]:>12.3f} | {adv[1][t]:>9.3f}"
    )
next_values = torch.cat([values[1:], torch.zeros(1)])
assert torch.allclose(adv[0], rewards + next_values - values)  # one-step TD
assert torch.allclose(adv[1], returns - values)  # Monte Carlo return - V
assert (
    round(adv[0][0].item(), 3) == 0.080 and round(adv[1][0].item(), 3) == 0.640
)

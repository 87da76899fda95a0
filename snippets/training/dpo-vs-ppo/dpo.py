"""DPO's loss starts at log 2 and sees only the margin of implicit rewards."""

import math

import torch

from mllm_handbook.preference import dpo_implicit_reward, dpo_loss

torch.manual_seed(0)

# At initialisation the policy is the reference: every log-ratio is 0.
ref_chosen = -torch.rand(4) * 20  # sequence log-probs of 4 preference pairs
ref_rejected = -torch.rand(4) * 20
loss0 = dpo_loss(ref_chosen, ref_rejected, ref_chosen, ref_rejected, beta=0.1)
assert math.isclose(loss0.item(), math.log(2), rel_tol=1e-6)
print(f"DPO loss at init = {loss0.item():.4f} (log 2 = {math.log(2):.4f})")

# The loss sees only the margin of implicit rewards beta * log(pi / pi_ref),
# chosen minus rejected.
print(" log-ratio chosen | log-ratio rejected | reward margin | DPO loss")
shifts = [(0, 0), (1, 0), (1, -1), (5, -5), (-2, -12), (-2, 0)]
for up, down in shifts:
    pc, pr = ref_chosen + up, ref_rejected + down
    reward_w = dpo_implicit_reward(pc, ref_chosen)
    reward_l = dpo_implicit_reward(pr, ref_rejected)
    margin = (reward_w - reward_l).mean().item()
    loss = dpo_loss(pc, pr, ref_chosen, ref_rejected, beta=0.1)
    print(f"{up:>17.1f} | {down:>18.1f} | {margin:>13.2f} | {loss.item():.4f}")
# Both log-probs fall, and the loss still drops: the rejected one falls faster.
falling = dpo_loss(ref_chosen - 2, ref_rejected - 12, ref_chosen, ref_rejected)
assert falling < loss0

"""Naive softmax overflows to nan; the log-sum-exp trick does not."""

import torch

from mllm_handbook.losses import stable_log_softmax

# exp(z) is inf in float32 above ln(3.4e38) = 88.72, in float16 above
# ln(65504) = 11.09.
assert torch.isfinite(torch.tensor(88.72).exp())
assert torch.isinf(torch.tensor(88.73).exp())
assert torch.isfinite(torch.tensor(11.08, dtype=torch.float16).exp())
assert torch.isinf(torch.tensor(11.1, dtype=torch.float16).exp())

# Naive softmax then gives inf / inf = nan; subtracting max(z) first does not.
z = torch.tensor([1000.0, 999.0, 998.0])
naive = z.exp() / z.exp().sum()
stable = stable_log_softmax(z).exp()
assert torch.isnan(naive).all() and torch.isfinite(stable).all()
assert torch.allclose(stable, torch.softmax(z - 1000, dim=0))  # shift-invariant
assert torch.allclose(stable, torch.tensor([0.665, 0.245, 0.090]), atol=5e-4)
assert torch.allclose(stable_log_softmax(z), torch.log_softmax(z, dim=0))
print(
    f"logits {z.tolist()}: naive softmax {naive.tolist()}, "
    f"stable {[round(p, 3) for p in stable.tolist()]}"
)

# Softmax, then log: exp(-200) underflows to 0 in float32 and log(0) = -inf.
two = torch.tensor([0.0, -200.0])
then_log = torch.softmax(two, dim=0).log()[1].item()
assert then_log == float("-inf") and stable_log_softmax(two)[1].item() == -200.0
print(
    f"logits [0, -200]: log(softmax) = {then_log}, "
    f"stable_log_softmax = {stable_log_softmax(two)[1].item()}"
)

"""LoRA from scratch: frozen W0 plus a trainable low-rank BA, merged after."""

import torch
from torch import nn

from mllm_handbook.peft import LoRALinear, count_parameters

torch.manual_seed(0)
d_in, d_out, r, alpha = 32, 32, 4, 8.0
base = nn.Linear(d_in, d_out)
lora = LoRALinear(base, r=r, alpha=alpha)
x = torch.randn(64, d_in)

# 1. B = 0 at init: the wrapped layer is exactly the pretrained layer.
assert torch.equal(lora(x), base(x))
diff = (lora(x) - base(x)).abs().max().item()
print(f"output unchanged at init: max |diff| = {diff:.1e}")

# 2. Trainable parameters: r * (d_in + d_out) instead of d_in * d_out
#    (+ bias).
trainable = count_parameters(lora)
total = count_parameters(lora, trainable_only=False)
assert trainable == r * (d_in + d_out)
print(f"trainable: {trainable} of {total} parameters")
for rank in (8, 16, 64):
    share = rank * (4096 + 4096) / (4096 * 4096)
    print(
        f"  a 4096x4096 projection with r={rank:<2}: {rank * 8192:>7,} "
        f"trainable ({share:.2%} of {4096 * 4096:,})"
    )

# 3. Fit a target layer whose weight differs from W0 by a rank-2 change;
#    only A and B move.
target_delta = 0.5 * torch.randn(d_out, 2) @ torch.randn(2, d_in) / d_in**0.5
y = x @ (base.weight + target_delta).T.detach() + base.bias.detach()
w0_before = base.weight.detach().clone()
optimizer = torch.optim.Adam([lora.lora_A, lora.lora_B], lr=1e-2)
for step in range(151):
    loss = nn.functional.mse_loss(lora(x), y)
    if step in (0, 50, 150):
        print(f"step {step:>3}: mse = {loss.item():.5f}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
assert loss.item() < 1e-3
assert torch.equal(base.weight, w0_before)
print(f"W0 unchanged after training: {torch.equal(base.weight, w0_before)}")
rank = int(torch.linalg.matrix_rank(lora.delta_weight(), atol=1e-3))
assert rank == 2  # the rank of the change it had to learn
print(f"rank of the learned update (alpha/r) BA: {rank}")

# 4. Merge: W = W0 + (alpha/r) BA gives the same outputs with a plain
#    nn.Linear.
merged = lora.merge()
diff = (merged(x) - lora(x)).abs().max().item()
assert diff < 1e-5
print(f"merged nn.Linear == LoRA layer: max |diff| = {diff:.1e}")

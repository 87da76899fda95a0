"""MSE averages over every element, and it punishes outliers more than L1."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import huber_loss, l1_loss, mse_loss

torch.manual_seed(0)

# Each loss equals its torch.nn.functional counterpart (mean reduction).
pred, target = torch.randn(2, 3), torch.randn(2, 3)
assert torch.allclose(mse_loss(pred, target), F.mse_loss(pred, target))
assert torch.allclose(l1_loss(pred, target), F.l1_loss(pred, target))
assert torch.allclose(huber_loss(pred, target), F.huber_loss(pred, target))
print("mse_loss, l1_loss, huber_loss == torch.nn.functional: OK")

# MSE averages over all elements: a [2, 3] error of ones gives 6 / 6 = 1,
# not 6 / 2 = 3 (the mean over the 2 samples).
ones = mse_loss(torch.zeros(2, 3), torch.ones(2, 3)).item()
assert ones == 1.0
print(f"MSE of a [2, 3] all-ones error: {ones:.1f}")

# One outlier among 8 targets: MSE grows quadratically, L1 and Huber linearly.
clean = torch.zeros(8)
print(f"{'outlier':>7} | {'MSE':>7} | {'L1':>6} | {'Huber':>6}")
losses = {}
for size in (1.0, 10.0, 100.0):
    noisy = clean.clone()
    noisy[0] = size
    losses[size] = [
        f(noisy, clean).item() for f in (mse_loss, l1_loss, huber_loss)
    ]
    mse, l1, huber = losses[size]
    print(f"{size:7.0f} | {mse:7.2f} | {l1:6.2f} | {huber:6.2f}")
mse_ratio = losses[100.0][0] / losses[10.0][0]
l1_ratio = losses[100.0][1] / losses[10.0][1]
assert mse_ratio == 100.0 and l1_ratio == 10.0  # x10 outlier: x100 vs x10
# Huber (delta = 1) is linear past delta: (|e| - 0.5) / 8 for both outliers.
assert all(losses[s][2] == (s - 0.5) / 8 for s in (10.0, 100.0))

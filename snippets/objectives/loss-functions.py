"""MSE, L1, Huber, cross-entropy with label smoothing, and diffusion's epsilon-MSE (page: objectives/loss-functions)."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import cross_entropy, diffusion_epsilon_loss, huber_loss, l1_loss, mse_loss

torch.manual_seed(0)

# 1. Each loss equals its torch.nn.functional counterpart (mean reduction).
pred, target = torch.randn(2, 3), torch.randn(2, 3)
assert torch.allclose(mse_loss(pred, target), F.mse_loss(pred, target))
assert torch.allclose(l1_loss(pred, target), F.l1_loss(pred, target))
assert torch.allclose(huber_loss(pred, target), F.huber_loss(pred, target))
logits, labels = torch.randn(5, 4), torch.tensor([0, 3, -100, 1, 2])
for eps in (0.0, 0.1):
    ours = cross_entropy(logits, labels, label_smoothing=eps)
    assert torch.allclose(ours, F.cross_entropy(logits, labels, label_smoothing=eps))
print("mse_loss, l1_loss, huber_loss, cross_entropy == torch.nn.functional: OK")

# 2. MSE averages over all elements: a [2, 3] error of ones gives 6 / 6 = 1, not 6 / 2 = 3.
print(f"MSE of a [2, 3] all-ones error: {mse_loss(torch.zeros(2, 3), torch.ones(2, 3)).item():.1f}")

# 3. Sensitivity to one outlier: MSE grows quadratically, L1 and Huber linearly.
clean = torch.zeros(8)
print(f"{'outlier':>7} | {'MSE':>7} | {'L1':>6} | {'Huber':>6}")
for size in (1.0, 10.0, 100.0):
    noisy = clean.clone()
    noisy[0] = size
    print(
        f"{size:7.0f} | {mse_loss(noisy, clean).item():7.2f} | {l1_loss(noisy, clean).item():6.2f} | "
        f"{huber_loss(noisy, clean).item():6.2f}"
    )

# 4. Label smoothing: even a confident, correct prediction keeps a positive loss.
confident = torch.tensor([[10.0, 0.0, 0.0, 0.0]])
for eps in (0.0, 0.1):
    print(f"label_smoothing={eps}: CE = {cross_entropy(confident, torch.tensor([0]), eps).item():.4f}")

# 5. Diffusion: the network predicts the added noise; the loss is an MSE on the noise.
x0 = torch.randn(2, 4)  # clean latents
noise = torch.randn(2, 4)
alphas_cumprod = torch.linspace(0.999, 0.01, 1000)  # a toy schedule of alpha-bar
t = torch.tensor([10, 900])


def perfect_model(x_t, t):
    a = alphas_cumprod[t].unsqueeze(1)
    return (x_t - a.sqrt() * x0) / (1 - a).sqrt()  # cheats: knows x0, so recovers the noise exactly


loss_perfect = diffusion_epsilon_loss(perfect_model, x0, t, alphas_cumprod, noise)
loss_zero = diffusion_epsilon_loss(lambda x_t, t: torch.zeros_like(x_t), x0, t, alphas_cumprod, noise)
assert loss_perfect < 1e-10 and torch.allclose(loss_zero, F.mse_loss(torch.zeros_like(noise), noise))
print(
    f"epsilon-MSE: perfect model < 1e-10: {bool(loss_perfect < 1e-10)}; model that predicts 0: {loss_zero.item():.4f}"
)

"""DDPM's loss is an MSE on the noise: zero for a model that recovers it."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import diffusion_epsilon_loss

torch.manual_seed(0)

x0 = torch.randn(2, 4)  # clean latents
noise = torch.randn(2, 4)
alphas_cumprod = torch.linspace(0.999, 0.01, 1000)  # a toy alpha-bar schedule
t = torch.tensor([10, 900])


def perfect_model(x_t, t):
    """Cheats: knows x0, so it recovers the added noise exactly."""
    a = alphas_cumprod[t].unsqueeze(1)
    return (x_t - a.sqrt() * x0) / (1 - a).sqrt()


def zero_model(x_t, t):
    return torch.zeros_like(x_t)


loss_perfect = diffusion_epsilon_loss(
    perfect_model, x0, t, alphas_cumprod, noise
)
loss_zero = diffusion_epsilon_loss(zero_model, x0, t, alphas_cumprod, noise)
assert loss_perfect < 1e-10
assert torch.allclose(loss_zero, F.mse_loss(torch.zeros_like(noise), noise))
print(f"epsilon-MSE, perfect model: < 1e-10: {bool(loss_perfect < 1e-10)}")
print(f"epsilon-MSE, model that predicts 0: {loss_zero.item():.4f}")

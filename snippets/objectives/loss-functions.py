"""Common losses, the log-sum-exp trick, the p - y gradient, diffusion's MSE."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import (
    cross_entropy,
    cross_entropy_grad,
    diffusion_epsilon_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    stable_log_softmax,
)

torch.manual_seed(0)

# 1. Each loss equals its torch.nn.functional counterpart (mean reduction).
pred, target = torch.randn(2, 3), torch.randn(2, 3)
assert torch.allclose(mse_loss(pred, target), F.mse_loss(pred, target))
assert torch.allclose(l1_loss(pred, target), F.l1_loss(pred, target))
assert torch.allclose(huber_loss(pred, target), F.huber_loss(pred, target))
logits, labels = torch.randn(5, 4), torch.tensor([0, 3, -100, 1, 2])
for eps in (0.0, 0.1):
    ours = cross_entropy(logits, labels, label_smoothing=eps)
    assert torch.allclose(
        ours, F.cross_entropy(logits, labels, label_smoothing=eps)
    )
print("mse_loss, l1_loss, huber_loss, cross_entropy == torch.nn.functional: OK")

# 2. MSE averages over all elements: a [2, 3] error of ones gives 6 / 6 = 1, not 6 / 2 = 3.
print(
    f"MSE of a [2, 3] all-ones error: {mse_loss(torch.zeros(2, 3), torch.ones(2, 3)).item():.1f}"
)

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
    print(
        f"label_smoothing={eps}: CE = {cross_entropy(confident, torch.tensor([0]), eps).item():.4f}"
    )

# 5. Diffusion: the network predicts the added noise; the loss is an MSE on the noise.
x0 = torch.randn(2, 4)  # clean latents
noise = torch.randn(2, 4)
alphas_cumprod = torch.linspace(
    0.999, 0.01, 1000
)  # a toy schedule of alpha-bar
t = torch.tensor([10, 900])


def perfect_model(x_t, t):
    a = alphas_cumprod[t].unsqueeze(1)
    return (x_t - a.sqrt() * x0) / (
        1 - a
    ).sqrt()  # cheats: knows x0, so recovers the noise exactly


loss_perfect = diffusion_epsilon_loss(
    perfect_model, x0, t, alphas_cumprod, noise
)
loss_zero = diffusion_epsilon_loss(
    lambda x_t, t: torch.zeros_like(x_t), x0, t, alphas_cumprod, noise
)
assert loss_perfect < 1e-10 and torch.allclose(
    loss_zero, F.mse_loss(torch.zeros_like(noise), noise)
)
print(
    f"epsilon-MSE: perfect model < 1e-10: {bool(loss_perfect < 1e-10)}; model that predicts 0: {loss_zero.item():.4f}"
)

# 6. Softmax overflow: exp(z) is inf in float32 above ln(3.4e38) = 88.72, in
#    float16 above ln(65504) = 11.09; naive softmax then gives inf/inf = nan.
assert torch.isfinite(torch.tensor(88.72).exp())
assert torch.isinf(torch.tensor(88.73).exp())
assert torch.isfinite(torch.tensor(11.08, dtype=torch.float16).exp())
assert torch.isinf(torch.tensor(11.1, dtype=torch.float16).exp())
z = torch.tensor([1000.0, 999.0, 998.0])
naive = z.exp() / z.exp().sum()
stable = stable_log_softmax(z).exp()  # log-sum-exp trick: subtract max(z) first
assert torch.isnan(naive).all() and torch.isfinite(stable).all()
assert torch.allclose(stable, torch.softmax(z - 1000, dim=0))  # shift-invariant
assert torch.allclose(stable, torch.tensor([0.665, 0.245, 0.090]), atol=5e-4)
assert torch.allclose(stable_log_softmax(z), torch.log_softmax(z, dim=0))
# softmax, then log: exp(-200) underflows to 0 in float32 and log(0) = -inf.
two = torch.tensor([0.0, -200.0])
assert torch.isinf(torch.softmax(two, dim=0).log()[1])
assert stable_log_softmax(two)[1].item() == -200.0
print(
    f"logits {z.tolist()}: naive softmax {naive.tolist()}, "
    f"stable {[round(p, 3) for p in stable.tolist()]}"
)

# 7. The gradient of mean softmax cross-entropy w.r.t. the logits is (p - y)/M.
logits = torch.randn(3, 5, requires_grad=True)
target = torch.tensor([4, 0, 2])
F.cross_entropy(logits, target).backward()
p_minus_y = torch.softmax(logits, -1) - F.one_hot(target, 5)
assert torch.allclose(logits.grad, p_minus_y.detach() / 3, atol=1e-7)
assert torch.allclose(logits.grad, cross_entropy_grad(logits.detach(), target))
smoothed = logits.detach().clone().requires_grad_()
F.cross_entropy(smoothed, target, label_smoothing=0.1).backward()
assert torch.allclose(
    smoothed.grad, cross_entropy_grad(smoothed.detach(), target, 0.1)
)
print(
    f"autograd dCE/dz == (softmax(z) - onehot(y)) / M: OK; row 0 x M: "
    f"{[round(g, 3) for g in (3 * logits.grad[0]).tolist()]}"
)

# 8. A confident wrong prediction: CE's gradient is about 1, MSE-on-softmax's
#    gradient vanishes because the softmax saturates.
wrong = torch.tensor([[0.0, 10.0]], requires_grad=True)  # the true class is 0
F.cross_entropy(wrong, torch.tensor([0])).backward()
ce_grad = wrong.grad.abs().max().item()
wrong.grad = None
F.mse_loss(torch.softmax(wrong, -1), torch.tensor([[1.0, 0.0]])).backward()
mse_grad = wrong.grad.abs().max().item()
assert mse_grad < 1e-4 and 0.99 < ce_grad <= 1.0 and ce_grad / mse_grad > 1e4
print(
    f"confidently wrong: |dCE/dz| = {ce_grad:.4f}, |dMSE/dz| = {mse_grad:.1e}"
)

"""The gradient of softmax cross-entropy is p - y; MSE's vanishes when wrong."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import cross_entropy_grad

torch.manual_seed(0)

# The gradient of mean cross-entropy w.r.t. the logits is (p - y) / M.
logits = torch.randn(3, 5, requires_grad=True)
target = torch.tensor([4, 0, 2])
F.cross_entropy(logits, target).backward()
p_minus_y = torch.softmax(logits, -1) - F.one_hot(target, 5)
assert torch.allclose(logits.grad, p_minus_y.detach() / 3, atol=1e-7)
assert torch.allclose(logits.grad, cross_entropy_grad(logits.detach(), target))
assert torch.allclose(logits.grad.sum(-1), torch.zeros(3), atol=1e-7)
smoothed = logits.detach().clone().requires_grad_()
F.cross_entropy(smoothed, target, label_smoothing=0.1).backward()
assert torch.allclose(
    smoothed.grad, cross_entropy_grad(smoothed.detach(), target, 0.1)
)
row = [round(g, 3) for g in (3 * logits.grad[0]).tolist()]
print(f"autograd dCE/dz == (softmax(z) - onehot(y)) / M: OK; row 0 x M: {row}")

# A confident wrong prediction: CE's gradient is about 1, MSE-on-softmax's
# gradient vanishes because the softmax saturates.
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

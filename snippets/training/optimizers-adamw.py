"""AdamW by hand, Adam + L2, bias correction, warm-up + cosine, accumulation."""

import math

import torch
import torch.nn.functional as F

from mllm_handbook.figures import new_figure, show
from mllm_handbook.optim import (
    accumulation_losses,
    adam_l2_step,
    adamw_step,
    scale_learning_rate,
    warmup_cosine_lr,
)

torch.manual_seed(0)
HP = {"lr": 1e-2, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1}


def run(step_fn, theta, grads, **hp):
    """Apply ``step_fn`` for every gradient in ``grads``; return the weights."""
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        theta, m, v = step_fn(theta, g, m, v, t, **hp)
    return theta


# 1. The hand-written step equals torch.optim.AdamW after 5 steps.
theta0 = torch.randn(4, 3)
grads = [torch.randn(4, 3) for _ in range(5)]
ours = run(adamw_step, theta0, grads, **HP)
p = theta0.clone().requires_grad_(True)
opt = torch.optim.AdamW([p], **HP)
for g in grads:
    p.grad = g.clone()
    opt.step()
diff = (ours - p.detach()).abs().max().item()
print(f"max |ours - torch.optim.AdamW| after 5 steps: {diff:.1e}")
assert torch.allclose(ours, p.detach(), atol=1e-6)

# 2. Decoupled decay vs L2: two weights at 1.0, tiny vs large gradients.
scale = torch.tensor([1e-3, 10.0])
noise = [torch.randn(2) * scale for _ in range(200)]
ones = torch.ones(2)
print("grad scale | AdamW decay | Adam+L2 decay")
shrink = {}
for name, fn in [("AdamW", adamw_step), ("Adam+L2", adam_l2_step)]:
    no_decay = run(fn, ones, noise, **{**HP, "weight_decay": 0.0})
    shrink[name] = no_decay - run(fn, ones, noise, **HP)
for i in range(2):
    a, b = shrink["AdamW"][i].item(), shrink["Adam+L2"][i].item()
    print(f"{scale[i].item():>10g} | {a:>11.4f} | {b:>13.4f}")
# AdamW shrinks both weights by a similar amount; L2 through Adam barely
# touches the weight with large gradients (1/sqrt(v) scales the penalty).
assert shrink["AdamW"].max() < 1.5 * shrink["AdamW"].min()
assert shrink["Adam+L2"][0] > 50 * shrink["Adam+L2"][1]
assert [round(x, 3) for x in shrink["AdamW"].tolist()] == [0.199, 0.152]
assert [round(x, 3) for x in shrink["Adam+L2"].tolist()] == [1.083, 0.017]

# 3. Bias correction: the first step moves every weight by about lr.
g1 = torch.tensor([0.01, 0.3, -50.0])
z = torch.zeros(3)
for b2 in (0.999, 0.95):
    hp = {**HP, "betas": (0.9, b2), "weight_decay": 0.0}
    fixed = adamw_step(z, g1, z, z, 1, **hp)[0].abs() / HP["lr"]
    raw = adamw_step(z, g1, z, z, 1, **hp, bias_correction=False)[0]
    raw = raw.abs() / HP["lr"]
    print(f"beta2={b2}: |step|/lr with correction ", end="")
    print(f"{[round(x, 3) for x in fixed.tolist()]}, without ", end="")
    print(f"{[round(x, 3) for x in raw.tolist()]}")
    assert torch.allclose(fixed, torch.ones(3), atol=1e-3)
    assert torch.allclose(
        raw, torch.full((3,), 0.1 / math.sqrt(1 - b2)), rtol=1e-3
    )

# 4. Warm-up + cosine (LLaMA shape: decay to 10 % of the peak).
peak, warmup, total = 3e-4, 200, 2000
lrs = [
    warmup_cosine_lr(t, peak, warmup, total, 0.1 * peak)
    for t in range(total + 1)
]
mid = (warmup + total) // 2
print(f"lr at 0, {warmup}, {mid}, {total}: ", end="")
print(", ".join(f"{lrs[t]:.2e}" for t in (0, warmup, mid, total)))
assert lrs[0] == 0 and math.isclose(lrs[warmup], peak)
assert math.isclose(lrs[mid], 0.55 * peak) and math.isclose(lrs[-1], 0.1 * peak)
fig, ax = new_figure(6.0, 2.4)
ax.plot(range(0, total + 1, 20), [x * 1e4 for x in lrs[::20]])
ax.axvline(warmup, color="gray", linewidth=0.6)
ax.set_xlabel("step")
ax.set_ylabel("learning rate (1e-4)")
show(
    fig,
    alt="Learning rate rises linearly for 200 steps to 3e-4, then follows a "
    "cosine down to 3e-5 at step 2000.",
)

# 5. Gradient accumulation over micro-batches of 3, 11 and 5 tokens.
w = torch.randn(8, 6, requires_grad=True)
xs = [torch.randn(n, 8) for n in (3, 11, 5)]
ys = [torch.randint(0, 6, (n,)) for n in (3, 11, 5)]
full = F.cross_entropy(torch.cat(xs) @ w, torch.cat(ys))
g_full = torch.autograd.grad(full, w)[0]
token_losses = [
    F.cross_entropy(x @ w, y, reduction="none")
    for x, y in zip(xs, ys, strict=True)
]
errors = {}
for weighted in (True, False):
    parts = accumulation_losses(token_losses, token_weighted=weighted)
    g = torch.autograd.grad(sum(parts), w, retain_graph=True)[0]
    errors[weighted] = ((g - g_full).norm() / g_full.norm()).item()
print(f"relative gradient error: token-weighted {errors[True]:.1e}, ", end="")
print(f"mean of micro-batch means {errors[False]:.2f}")
assert errors[True] < 1e-6 and round(errors[False], 2) == 0.52

# 6. Rescaling the learning rate for a larger batch.
lin = scale_learning_rate(0.1, 256, 8192)
sqrt = scale_learning_rate(3e-4, 512, 2048, rule="sqrt")
print(f"SGD 0.1 @ 256 -> {lin:.1f} @ 8192 (linear); ", end="")
print(f"Adam 3e-4 @ 512 -> {sqrt:.0e} @ 2048 (sqrt)")
assert math.isclose(lin, 3.2) and math.isclose(sqrt, 6e-4)

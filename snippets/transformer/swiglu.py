"""GELU, SiLU and the SwiGLU FFN, and why LLaMA's FFN width is 11008."""

import torch
import torch.nn.functional as F

from mllm_handbook.ffn import SwiGLUFFN, gelu, llama_ffn_hidden_size, swish
from mllm_handbook.figures import new_figure, show

torch.manual_seed(0)
x = torch.linspace(-5, 5, 501, dtype=torch.float64)

# 1. The activations written out equal PyTorch's.
assert torch.allclose(gelu(x), F.gelu(x))  # x * Phi(x), erf form
assert torch.allclose(gelu(x, "tanh"), F.gelu(x, approximate="tanh"))
assert torch.allclose(swish(x), F.silu(x))  # x * sigmoid(x)
gap = (gelu(x) - gelu(x, "tanh")).abs().max().item()
print(f"gelu == F.gelu, swish == F.silu: OK; |erf - tanh form| <= {gap:.1e}")
assert gap < 5e-4
assert (gelu(x) - x * torch.sigmoid(1.702 * x)).abs().max() < 0.03  # ~Swish

# 2. Both dip below zero: the minimum and where it is.
for name, fn in [("GELU", gelu), ("SiLU", swish)]:
    y = fn(x)
    print(f"{name}: minimum {y.min():.3f} at x = {x[y.argmin()]:.2f}")
assert round(gelu(x).min().item(), 2) == -0.17
assert round(swish(x).min().item(), 3) == -0.278

# 3. SwiGLU FFN: W2 (SiLU(W1 x) * W3 x), three matrices and no biases.
d = 96
ffn = SwiGLUFFN(d, 8 * d // 3).double()
h = torch.randn(4, d, dtype=torch.float64)
w1, w2, w3 = ffn.w1.weight, ffn.w2.weight, ffn.w3.weight
assert torch.allclose(ffn(h), (F.silu(h @ w1.T) * (h @ w3.T)) @ w2.T)
swiglu_params = sum(p.numel() for p in ffn.parameters())
print(f"d = {d}: SwiGLU with 8d/3 has {swiglu_params} weights = 2 * d * 4d")
assert swiglu_params == 3 * d * (8 * d // 3) == 2 * d * (4 * d)

# 4. LLaMA rounds 8d/3 up to a multiple of 256 (LLaMA-1 code).
print(" model     |    d |   8d/3 | d_ff  | vs 2*d*4d")
for name, dim, want in [
    ("LLaMA-7B", 4096, 11008),
    ("LLaMA-13B", 5120, 13824),
    ("LLaMA-33B", 6656, 17920),
    ("LLaMA-65B", 8192, 22016),
]:
    d_ff = llama_ffn_hidden_size(dim)
    extra = 3 * dim * d_ff / (2 * dim * 4 * dim) - 1
    print(f" {name:<9} | {dim} | {8 * dim / 3:6.0f} | {d_ff} | {extra:+.1%}")
    assert d_ff == want == 256 * -(-(8 * dim // 3) // 256)  # 256*ceil(8d/3/256)
    assert 0.005 < extra < 0.015  # rounding adds about 1 % over 8 d^2
d_ff3 = llama_ffn_hidden_size(4096, multiple_of=1024, ffn_dim_multiplier=1.3)
print(f"LLaMA-3-8B (x1.3, multiple of 1024): d_ff = {d_ff3}")
assert d_ff3 == 14336

# 5. The activations and their derivatives (by autograd).
x.requires_grad_(True)
fig, (ax_f, ax_d) = new_figure(6.4, 2.8, ncols=2)
for name, fn in [("ReLU", F.relu), ("GELU", gelu), ("SiLU / Swish", swish)]:
    y = fn(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    ax_f.plot(x.detach(), y.detach(), label=name)
    ax_d.plot(x.detach(), dy, label=name)
    if name != "ReLU":
        slope0 = dy[250].item()  # x = 0
        assert abs(slope0 - 0.5) < 1e-12 and dy.min() < 0  # non-monotonic
ax_f.set(xlabel="x", ylabel="activation", ylim=(-1, 3), xlim=(-4, 3))
ax_d.set(xlabel="x", ylabel="derivative", xlim=(-4, 3))
ax_f.legend(frameon=False, fontsize=8)
for ax in (ax_f, ax_d):
    ax.axhline(0, color="gray", linewidth=0.6)
show(
    fig,
    alt="ReLU, GELU and SiLU on the left, their derivatives on the right: "
    "GELU and SiLU are smooth, dip slightly below zero for negative inputs, "
    "and have slope 0.5 at zero, where ReLU's derivative jumps from 0 to 1.",
)

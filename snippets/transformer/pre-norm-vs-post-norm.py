"""Pre-LN vs Post-LN blocks and their gradients at initialisation; QK-Norm."""

import torch
from torch import nn

from mllm_handbook.blocks import EncoderBlock, ffn_gradient_norms
from mllm_handbook.figures import new_figure, show
from mllm_handbook.norms import rms_norm

torch.manual_seed(0)

# 1. Our blocks equal PyTorch's nn.TransformerEncoderLayer with the same
#    weights (eval mode, no dropout).
x = torch.randn(2, 6, 16)
for norm_first, name in [(False, "Post-LN"), (True, "Pre-LN")]:
    layer = nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first
    ).eval()
    with torch.no_grad():
        assert torch.allclose(
            EncoderBlock.from_torch(layer)(x), layer(x), atol=1e-5
        )
    print(
        f"{name} block == nn.TransformerEncoderLayer(norm_first={norm_first})"
    )

# 2. Gradient norm of each layer's second FFN matrix at initialisation, for
#    stacks of growing depth, averaged over two draws of weights and data
#    (the theorem is about the expectation; one draw is noisy).
depths = [1, 2, 4, 8, 16, 32]


def grad_norms(norm_first: bool, depth: int) -> torch.Tensor:
    draws = [ffn_gradient_norms(norm_first, depth, seed=s) for s in (0, 1)]
    return torch.stack(draws).mean(0)


post = {d: grad_norms(False, d) for d in depths}
pre = {d: grad_norms(True, d) for d in depths}
deep = depths[-1]
print(f"{deep}-layer stack\n{'layer':>5} | {'Post-LN':>7} | {'Pre-LN':>7}")
for i in [0, 7, 15, 23, 31]:
    print(f"{i + 1:>5} | {post[deep][i]:7.3f} | {pre[deep][i]:7.3f}")
# Post-LN: largest near the output; Pre-LN: no growth toward the output.
assert post[deep][-4:].mean() > 1.2 * post[deep][:4].mean()
assert pre[deep][-4:].mean() < pre[deep][:4].mean()

# 3. The last layer's gradient norm as the stack gets deeper.
last_post = [post[d][-1].item() for d in depths]
last_pre = [pre[d][-1].item() for d in depths]
print(f"\n{'depth':>5} | {'Post-LN last':>12} | {'Pre-LN last':>11}")
for d, a, b in zip(depths, last_post, last_pre, strict=True):
    print(f"{d:>5} | {a:12.3f} | {b:11.3f}")
# Pre-LN: shrinks at every step in depth; Post-LN: does not shrink.
assert last_pre == sorted(last_pre, reverse=True)
assert last_pre[-1] < 0.5 * last_pre[0]
assert last_post[-1] > 0.8 * last_post[0]

fig, (ax1, ax2) = new_figure(7.0, 2.8, ncols=2)
layers = range(1, deep + 1)
ax1.plot(layers, post[deep].tolist(), marker="o", markersize=3, label="Post-LN")
ax1.plot(layers, pre[deep].tolist(), marker="s", markersize=3, label="Pre-LN")
ax1.set_xlabel(f"layer index ({deep}-layer stack)")
ax1.set_ylabel("grad norm of FFN W2")
ax1.legend(frameon=False)
ax2.plot(depths, last_post, marker="o", label="Post-LN")
ax2.plot(depths, last_pre, marker="s", label="Pre-LN")
ax2.set_xscale("log", base=2)
ax2.set_xticks(depths, [str(d) for d in depths])  # plain labels, no mathtext
ax2.minorticks_off()
ax2.set_xlabel("number of layers")
ax2.set_ylabel("grad norm, last layer")
show(
    fig,
    alt="At initialisation, Post-LN gradients grow toward the output layer and "
    "do not shrink with depth; Pre-LN gradients do not grow toward the output "
    "and the last layer's gradient shrinks as depth grows.",
)

# 4. QK-Norm: RMSNorm (gain 1) on q and k makes ||q|| = ||k|| = sqrt(d_h), so
#    |q.k| / sqrt(d_h) <= sqrt(d_h) however large W_Q and W_K grow.
d_h = 16
hidden = torch.randn(8, d_h)
w_q, w_k = torch.randn(d_h, d_h), torch.randn(d_h, d_h)
scales, plain, normed = (1, 4, 16), [], []
for s in scales:
    q, k = hidden @ (s * w_q), hidden @ (s * w_k)
    plain.append((q @ k.T).abs().max().item() / d_h**0.5)
    qk = rms_norm(q) @ rms_norm(k).T
    normed.append(qk.abs().max().item() / d_h**0.5)
print(f"\n{'W_Q, W_K x':>10} | {'max |logit|':>11} | {'with QK-Norm':>12}")
for s, a, b in zip(scales, plain, normed, strict=True):
    print(f"{s:>10} | {a:11.1f} | {b:12.3f}")
assert abs(plain[-1] / plain[0] - 16**2) < 1e-3 * 16**2  # grows like s^2
assert max(normed) - min(normed) < 1e-4  # QK-Norm: unchanged
assert max(normed) <= d_h**0.5  # bounded by sqrt(d_h) = 4

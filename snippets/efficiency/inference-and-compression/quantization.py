"""Per-channel int8 scales keep one outlier channel from coarsening the rest."""

import warnings

import matplotlib.ticker
import torch

from mllm_handbook.compression import (
    dequantize_per_channel,
    quantize_per_channel_int8,
)
from mllm_handbook.figures import new_figure, show

torch.manual_seed(0)

w = torch.randn(8, 64) * 0.02
w[3] *= 20  # one channel with a 20x larger range, like LLM outlier features

# One scale per output channel (row), the same as PyTorch's quantizer.
q, scale = quantize_per_channel_int8(w, axis=0)
with warnings.catch_warnings():  # PyTorch's quantized tensors are deprecated
    warnings.simplefilter("ignore", UserWarning)
    reference = torch.quantize_per_channel(
        w, scale.double(), torch.zeros(8, dtype=torch.long), 0, torch.qint8
    )
per_channel = dequantize_per_channel(q, scale)
assert torch.equal(q, reference.int_repr())
assert torch.allclose(per_channel, reference.dequantize())
print("quantize_per_channel_int8 == torch.quantize_per_channel: OK")
assert ((per_channel - w).abs() <= scale[:, None] / 2 + 1e-9).all()
print("every element's error <= s_c / 2: OK")

# One scale for the whole tensor = a single channel of the flattened tensor.
q_t, scale_t = quantize_per_channel_int8(w.reshape(1, -1), axis=0)
per_tensor = dequantize_per_channel(q_t, scale_t).reshape(w.shape)
err_tensor = (per_tensor - w).abs().mean(dim=1)
err_channel = (per_channel - w).abs().mean(dim=1)
print("row | per-tensor mean |err| | per-channel mean |err|")
for row in range(8):
    print(f"{row:>3} | {err_tensor[row]:>21.2e} | {err_channel[row]:>22.2e}")
assert err_channel.mean() < err_tensor.mean()
int8_bytes = q.numel() + scale.numel() * 4
print(f"memory: {w.numel() * 4} bytes fp32 -> {int8_bytes} bytes int8 + scales")

fig, ax = new_figure(5.0, 2.6)
rows = list(range(8))
ax.bar(
    [r - 0.2 for r in rows],
    err_tensor.tolist(),
    width=0.4,
    label="per-tensor scale",
)
ax.bar(
    [r + 0.2 for r in rows],
    err_channel.tolist(),
    width=0.4,
    label="per-channel scales",
)
ax.set_yscale("log")
# Plain tick labels: matplotlib's default 10^k labels need its slow mathtext.
ax.set_yticks([1e-4, 1e-3, 1e-2], ["1e-4", "1e-3", "1e-2"])
ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
ax.set_xlabel("output channel (row 3 has a 20x larger range)")
ax.set_ylabel("mean |W - dequant(q)|")
ax.set_ylim(top=3e-2)  # room for the legend
ax.legend(frameon=False, fontsize=8, ncols=2, loc="upper center")
show(
    fig,
    alt="Int8 rounding error per output channel: one shared scale gives every "
    "ordinary row a large error; per-channel scales keep it small.",
)

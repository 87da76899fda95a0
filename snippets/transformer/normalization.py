"""BatchNorm vs LayerNorm vs RMSNorm on padded token batches."""

import torch
import torch.nn.functional as F

from mllm_handbook.figures import new_figure, show
from mllm_handbook.norms import batch_norm, layer_norm, rms_norm

torch.manual_seed(0)
batch, seq, d = 2, 5, 8
x = torch.randn(batch, seq, d)
gamma, beta = torch.randn(d), torch.randn(d)

# 1. Our functions match PyTorch's built-ins.
ln_reference = F.layer_norm(x, (d,), gamma, beta)
rms_reference = F.rms_norm(x, (d,), gamma, eps=1e-6)
bn_reference = F.batch_norm(x.reshape(-1, d), None, None, training=True)
bn_reference = bn_reference.reshape(x.shape)
assert torch.allclose(layer_norm(x, gamma, beta), ln_reference, atol=1e-6)
assert torch.allclose(rms_norm(x, gamma), rms_reference, atol=1e-6)
assert torch.allclose(batch_norm(x), bn_reference, atol=1e-5)
print("layer_norm, rms_norm, batch_norm == torch.nn.functional: OK")


def real_token_change(norm, num_pad: int) -> float:
    """Max change of the real tokens' outputs after appending `num_pad` zero
    (padding) tokens."""
    padded = torch.cat([x, torch.zeros(batch, num_pad, d)], dim=1)
    return (norm(padded)[:, :seq] - norm(x)).abs().max().item()


# 2. Padding leaks into BatchNorm's statistics, never into LayerNorm's or
#    RMSNorm's.
pads = [0, 1, 2, 4, 8, 16]
norms = {"BatchNorm": batch_norm, "LayerNorm": layer_norm, "RMSNorm": rms_norm}
changes = {
    name: [real_token_change(fn, p) for p in pads] for name, fn in norms.items()
}
print(
    f"{'pad tokens':>10} | {'BatchNorm':>9} | {'LayerNorm':>9} | {'RMSNorm':>9}"
)
for p, bn, ln, rms in zip(pads, *changes.values(), strict=True):
    print(f"{p:>10} | {bn:9.4f} | {ln:9.1e} | {rms:9.1e}")
assert changes["BatchNorm"][-1] > 0.1
assert max(changes["LayerNorm"] + changes["RMSNorm"]) < 1e-5

# 3. The same numbers as a figure.
fig, ax = new_figure(6.0, 2.8)
for name, marker in [("BatchNorm", "o"), ("LayerNorm", "s"), ("RMSNorm", "^")]:
    ax.plot(pads, changes[name], marker=marker, label=name)
ax.set_xlabel("padding tokens appended per sequence")
ax.set_ylabel("max |change| of real tokens")
ax.legend(frameon=False)
show(
    fig,
    alt="Padding changes BatchNorm outputs of real tokens; LayerNorm and "
    "RMSNorm stay at zero.",
)

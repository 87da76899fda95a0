"""Sinusoidal encodings: a shift is a fixed rotation; dot products see m - n."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.positional import sinusoidal_encoding

pe = sinusoidal_encoding(64, 32)  # 64 positions, d = 32

# PE[pos + k] is a fixed rotation of each channel pair of PE[pos].
k = 5
angle = k * 10000 ** (-torch.arange(0, 32, 2) / 32)  # k * frequency of pair i
sin, cos = pe[:-k, 0::2], pe[:-k, 1::2]
assert torch.allclose(
    pe[k:, 0::2], sin * angle.cos() + cos * angle.sin(), atol=1e-5
)
assert torch.allclose(
    pe[k:, 1::2], cos * angle.cos() - sin * angle.sin(), atol=1e-5
)
print(f"PE[pos + {k}] = a fixed rotation of PE[pos], for every pos: OK")

# So PE[m] . PE[n] depends only on m - n: each diagonal of the Gram matrix
# is constant.
gram = pe @ pe.T
for offset in (1, 8):
    diagonal = torch.diagonal(gram, offset)
    assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-4)
print(
    f"PE[m].PE[m+1] = {gram[0, 1]:.3f} and PE[m].PE[m+8] = {gram[0, 8]:.3f}"
    " for every m"
)

fig, ax = new_figure(4.8, 2.6)
image = ax.imshow(
    pe.T.numpy(),
    aspect="auto",
    cmap="RdBu",
    vmin=-1,
    vmax=1,
    interpolation="none",
)
ax.set_xlabel("position")
ax.set_ylabel("channel")
fig.colorbar(image, ax=ax, shrink=0.8)
show(
    fig,
    alt="Sinusoidal encoding heatmap: low channels oscillate fast along the "
    "positions, high channels slowly.",
)

"""RoPE: the score of a rotated query and key depends only on n - m."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.positional import apply_rope

torch.manual_seed(0)
dim = 32
q = torch.randn(dim, dtype=torch.float64)
k = torch.randn(dim, dtype=torch.float64)
deltas = torch.arange(0, 41)


def rope_scores(m):
    """q at position m, k at positions m + delta, for every delta."""
    q_rot = apply_rope(q[None], torch.tensor([m]))
    k_rot = apply_rope(k.expand(len(deltas), dim), m + deltas)
    return (k_rot @ q_rot.T).squeeze(-1)


scores = {m: rope_scores(m) for m in (0, 100, 1000)}
gap = max((scores[0] - scores[m]).abs().max().item() for m in (100, 1000))
assert gap < 1e-9
print("scores vs offset for queries at m = 0, 100, 1000 agree to < 1e-9")

fig, ax = new_figure(4.8, 2.6)
styles = {
    0: dict(marker="o", markersize=7, fillstyle="none"),
    100: dict(marker="x"),
    1000: dict(marker="+"),
}
for m, style in styles.items():
    ax.plot(deltas.tolist(), scores[m].tolist(), linestyle="none", **style)
ax.set_xlabel("offset n - m")
ax.set_ylabel("RoPE score")
ax.set_title("query at m = 0 (o), 100 (x), 1000 (+)", fontsize=9)
show(
    fig,
    alt="RoPE attention score against the offset n - m: identical for "
    "queries at positions 0, 100 and 1000.",
)

"""Sinusoidal, learned, T5-bucket, ALiBi and RoPE position information (page: transformer/positional-encodings)."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.positional import (
    alibi_bias,
    alibi_slopes,
    apply_rope,
    sinusoidal_encoding,
    t5_relative_position_bucket,
)

torch.manual_seed(0)

# 1. Sinusoidal: PE[m] . PE[n] depends only on m - n (each channel pair is a rotating 2-D point).
pe = sinusoidal_encoding(64, 32)
gram = pe @ pe.T
for offset in (1, 8):
    diagonal = torch.diagonal(gram, offset)
    assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-4)
print(
    f"sinusoidal: PE[m].PE[m+1] = {gram[0, 1]:.3f} and PE[m].PE[m+8] = {gram[0, 8]:.3f} for every m"
)

# 2. Learned absolute positions are a lookup table: there is no row for a position past its size.
learned = torch.nn.Embedding(16, 32)
try:
    learned(torch.tensor([16]))
except IndexError:
    print(
        "learned table with 16 rows: position 16 -> IndexError (no extrapolation by construction)"
    )

# 3. T5: key - query offsets -> shared buckets (exact near 0, log-spaced far
#    away; with the defaults every distance >= 91 is already in the last one).
offsets = torch.tensor(
    [-200, -100, -50, -20, -10, -8, -7, -1, 0, 1, 7, 8, 20, 100]
)
buckets = t5_relative_position_bucket(offsets)
print("T5 offsets:", " ".join(f"{o:>4}" for o in offsets.tolist()))
print("T5 buckets:", " ".join(f"{b:>4}" for b in buckets.tolist()))
distances = torch.arange(1, 300)
first_last = {  # smallest distance that lands in the last bucket
    "encoder, key after query": t5_relative_position_bucket(distances) == 31,
    "encoder, key before query": t5_relative_position_bucket(-distances) == 15,
    "decoder (causal, 32 buckets)": t5_relative_position_bucket(
        -distances, bidirectional=False
    )
    == 31,
}
for name, in_last in first_last.items():
    print(f"T5 {name}: last bucket from distance {distances[in_last].min()}")
starts = [distances[m].min().item() for m in first_last.values()]
assert starts == [91, 91, 113]
log_spaced = t5_relative_position_bucket(torch.arange(8, 91)).unique()
assert len(log_spaced) == 7  # distances 8..90 share only 7 buckets

# 4. ALiBi: head h adds -m_h * (i - j) to the score of query i on key j.
print(
    "ALiBi slopes, 8 heads :",
    " ".join(f"1/{1 / s:.0f}" for s in alibi_slopes(8).tolist()),
)
print(
    "ALiBi slopes, 12 heads:",
    " ".join(f"{s:.3f}" for s in alibi_slopes(12).tolist()),
)
bias = alibi_bias(8, 6)
print(
    "head 1, query 5, keys 0..5:",
    " ".join(f"{b + 0.0:.1f}" for b in bias[0, 5].tolist()),
)
assert torch.allclose(
    bias[:, 5, :6].diff(dim=-1), alibi_slopes(8)[:, None].expand(8, 5)
)  # linear in distance

# 5. RoPE: the score between a rotated query at m and a rotated key at n depends only on n - m.
dim = 32
q, k = (
    torch.randn(dim, dtype=torch.float64),
    torch.randn(dim, dtype=torch.float64),
)
deltas = torch.arange(0, 41)


def rope_scores(m):
    """q at position m, k at positions m + delta, for every delta."""
    q_rot = apply_rope(q[None], torch.tensor([m]))
    k_rot = apply_rope(k.expand(len(deltas), dim), m + deltas)
    return (k_rot @ q_rot.T).squeeze(-1)


scores = {m: rope_scores(m) for m in (0, 100, 1000)}
gap = max((scores[0] - scores[m]).abs().max().item() for m in (100, 1000))
assert gap < 1e-9
print("RoPE: scores vs offset for queries at m = 0, 100, 1000 agree to < 1e-9")

fig, (ax1, ax2) = new_figure(7.0, 2.8, ncols=2)
image = ax1.imshow(
    pe.T.numpy(),
    aspect="auto",
    cmap="RdBu",
    vmin=-1,
    vmax=1,
    interpolation="nearest",
)
ax1.set_xlabel("position")
ax1.set_ylabel("channel")
fig.colorbar(image, ax=ax1, shrink=0.8)
styles = {
    0: dict(marker="o", markersize=7, fillstyle="none"),
    100: dict(marker="x"),
    1000: dict(marker="+"),
}
for m, style in styles.items():
    ax2.plot(deltas.tolist(), scores[m].tolist(), linestyle="none", **style)
ax2.set_xlabel("offset n - m")
ax2.set_ylabel("RoPE score")
ax2.set_title("query at m = 0 (o), 100 (x), 1000 (+)", fontsize=9)
show(
    fig,
    alt="Left: sinusoidal encoding heatmap, fast oscillation in low channels and slow in high channels. "
    "Right: RoPE attention score against offset is identical for queries at positions 0, 100 and 1000.",
)

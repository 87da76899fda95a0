"""Qwen2-VL's M-RoPE: 3-D position ids, 1-D RoPE for text, 2-D image offsets."""

import math

import torch
from matplotlib.colors import ListedColormap

from mllm_handbook.figures import new_figure, show
from mllm_handbook.positional import (
    apply_mrope,
    apply_mrope_interleaved,
    apply_rope,
    mrope_axis_ids,
    mrope_position_ids,
    rope_frequencies,
)

torch.manual_seed(0)
d, base = 128, 1e6  # Qwen2-VL-7B: head dim 128, rope_theta 1e6

# 1. Position ids for [text 3, image 1x2x3, text 2, video 3x2x2, text 2].
segments = [3, (1, 2, 3), 2, (3, 2, 2), 2]
ids = mrope_position_ids(segments)
start = 0
for seg in segments:
    n = seg if isinstance(seg, int) else math.prod(seg)
    block = ids[:, start : start + n].tolist()
    name = (
        f"text x{seg}" if isinstance(seg, int) else "grid {}x{}x{}".format(*seg)
    )
    if isinstance(seg, int):
        print(f"{name:<11} t=h=w: {' '.join(map(str, block[0]))}")
    else:
        for axis, row in zip("thw", block, strict=True):
            print(f"{name:<11} {axis}: {' '.join(map(str, row))}")
            name = ""
    start += n
assert ids[:, 9].tolist() == [6, 6, 6]  # text after the image: 3 + max(1, 2, 3)
assert ids[:, 23].tolist() == [11, 11, 11]  # after the video: 8 + max(3, 2, 2)
assert ids.shape[1] == 25 and ids.max() == 12  # 25 tokens, ids up to 12
image = mrope_position_ids([(1, 16, 16), 1])  # 448x448 px: 16x16 tokens
assert image[0, -1] == 16
print("448x448 image: 256 tokens, the next text id is 16, not 256")

# 2. Text only (t = h = w): M-RoPE is exactly 1-D RoPE.
x = torch.randn(2, 4, 10, d, dtype=torch.float64)  # [batch, heads, seq, dim]
text = torch.arange(10) + 5
out = apply_mrope(x, text.expand(3, -1), [16, 24, 24], base)
assert torch.equal(out, apply_rope(x, text, base))
print("text only: apply_mrope == apply_rope (bit for bit)")

# 3. Scores between image tokens depend only on (dh, dw).
H, W = 4, 6
q, k = torch.randn(d, dtype=torch.float64), torch.randn(d, dtype=torch.float64)


def image_scores(offset):
    """Score of every query token on every key token of an H x W image."""
    pos = mrope_position_ids([offset, (1, H, W)])[:, offset:]
    qr = apply_mrope(q.expand(H * W, d), pos, [16, 24, 24], base)
    kr = apply_mrope(k.expand(H * W, d), pos, [16, 24, 24], base)
    return qr @ kr.T, pos


scores, pos = image_scores(3)
delta = pos[1:, None, :] - pos[1:, :, None]  # [2, query, key]: (dh, dw)
keys = (delta[0] * 100 + delta[1]).flatten()
spread = max(
    (s.max() - s.min()).item()
    for s in (scores.flatten()[keys == v] for v in keys.unique())
)
assert keys.unique().numel() == (2 * H - 1) * (2 * W - 1) and spread < 1e-9
assert torch.allclose(image_scores(300)[0], scores)  # move the image: same
print(
    f"{H}x{W} image: {keys.unique().numel()} (dh, dw) offsets, score "
    f"spread within each < 1e-9; same scores 297 positions later"
)


def raster_score(a, b):
    """1-D RoPE with the image flattened row by row (LLaVA-style)."""
    pa, pb = torch.tensor([a[0] * W + a[1]]), torch.tensor([b[0] * W + b[1]])
    return apply_rope(q[None], pa, base) @ apply_rope(k[None], pb, base).T


def mrope_score(a, b):
    return scores[a[0] * W + a[1], b[0] * W + b[1]]


same_row = ((0, 0), (0, 1))  # horizontal neighbours
wrap = ((0, W - 1), (1, 0))  # end of row 0, start of row 1
assert torch.isclose(raster_score(*same_row), raster_score(*wrap))
assert round(raster_score(*wrap).item(), 3) == -17.693
assert not torch.isclose(mrope_score(*same_row), mrope_score(*wrap))
print(
    f"1-D raster RoPE: neighbours {raster_score(*same_row).item():.3f}, "
    f"row wrap {raster_score(*wrap).item():.3f} (same offset 1)"
)
print(
    f"M-RoPE:          neighbours {mrope_score(*same_row).item():.3f}, "
    f"row wrap {mrope_score(*wrap).item():.3f} (offsets (0,1), (1,-5))"
)


def interleaved_score(a, b):
    """The same two tokens under Qwen3-VL's interleaved layout."""
    pa = torch.tensor([[0], [a[0]], [a[1]]]) + 3
    pb = torch.tensor([[0], [b[0]], [b[1]]]) + 3
    qa = apply_mrope_interleaved(q[None], pa, [24, 20, 20], base)
    kb = apply_mrope_interleaved(k[None], pb, [24, 20, 20], base)
    return (qa @ kb.T).squeeze()


print(
    f"interleaved:     neighbours {interleaved_score(*same_row).item():.3f}, "
    f"row wrap {interleaved_score(*wrap).item():.3f}"
)

gap_contiguous = (mrope_score(*same_row) - mrope_score(*wrap)).abs()
gap_interleaved = (
    interleaved_score(*same_row) - interleaved_score(*wrap)
).abs()
assert round(gap_contiguous.item(), 2) == 0.03
assert round(gap_interleaved.item()) == 1
assert gap_interleaved > 10 * gap_contiguous

# 4. Which frequencies each axis gets: contiguous (Qwen2-VL) vs interleaved.
wavelength = 2 * math.pi / rope_frequencies(d, base)
layouts = {
    "contiguous [16,24,24]": mrope_axis_ids([16, 24, 24]),
    "interleaved [24,20,20]": mrope_axis_ids([24, 20, 20], interleaved=True),
}
print("layout                 | axis | pairs | fastest λ | slowest λ")
span = {}
for name, axis in layouts.items():
    for a, label in enumerate("thw"):
        lam = wavelength[axis == a]
        span[name, label] = (lam.min().item(), lam.max().item())
        print(
            f"{name:<22} | {label:>4} | {len(lam):>5} | "
            f"{lam.min():>9.1f} | {lam.max():>9.3g}"
        )
contiguous = "contiguous [16,24,24]"
assert span[contiguous, "t"][1] < span[contiguous, "w"][0]  # t fast, w slow
t_band, h_band = span[contiguous, "t"], span[contiguous, "h"]
assert (round(t_band[0], 1), round(t_band[1])) == (6.3, 160)
assert (round(h_band[0], 1), round(h_band[1], -2)) == (198.7, 28500)
assert round(span[contiguous, "w"][0]) == 35333
assert 2 * math.pi / span[contiguous, "w"][0] < 2e-4  # rad per column
for label in "thw":
    fast, slow = span["interleaved [24,20,20]", label]
    assert fast < 10 and slow > 1e6  # every axis spans the spectrum
out3 = apply_mrope_interleaved(x, text.expand(3, -1), [24, 20, 20], base)
assert torch.equal(out3, apply_rope(x, text, base))  # still 1-D for text

fig, ax = new_figure(6.4, 1.5)
grid = torch.stack(list(layouts.values())).numpy()
ax.imshow(grid, aspect="auto", cmap=ListedColormap(["C0", "C1", "C2"]))
ax.set_yticks([0, 1], ["Qwen2-VL", "Qwen3-VL"])
ax.set_xlabel("frequency pair (0 = fastest); blue t, orange h, green w")
show(
    fig,
    alt="Axis of each of the 64 frequency pairs: Qwen2-VL gives time the 16 "
    "fastest pairs, height the next 24 and width the 24 slowest; Qwen3-VL "
    "cycles time, height and width across all pairs.",
)

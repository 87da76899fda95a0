"""Visual tokens per image: fixed, AnyRes, tiles, native resolution; packing."""

import torch
import torch.nn.functional as F

from mllm_handbook.attention import (
    attention_weights,
    scaled_dot_product_attention,
)
from mllm_handbook.vision import (
    anyres_num_tokens,
    block_diagonal_mask,
    closest_aspect_ratio_grid,
    select_best_resolution,
    smart_resize,
)

torch.manual_seed(0)

# LLaVA-NeXT (CLIP-336) canvases: 1x2, 2x1, 2x2, 3x1, 1x3 tiles of 336 px.
CANVASES = [(336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008)]
# Qwen2-VL-7B-Instruct's released preprocessor_config.json.
QWEN_MIN, QWEN_MAX = 3136, 12845056  # 4 and 16384 tokens of 28 x 28 px
assert (QWEN_MIN // 28**2, QWEN_MAX // 28**2) == (4, 16384)
# A 672 x 672 image fills the 2 x 2 canvas: 576 + 48 x 49 tokens.
assert anyres_num_tokens((672, 672), CANVASES) == 576 + 48 * 49 == 2928

images = {  # name: (width, height)
    "square photo": (1024, 1024),
    "A4 document": (1240, 1754),
    "panorama": (4000, 1000),
}
print(
    "image (W x H)           | LLaVA-1.5 | LLaVA-NeXT | InternVL 1.5 | Qwen2-VL"
)
counts = {}
for name, (w, h) in images.items():
    canvas = select_best_resolution((w, h), CANVASES)
    anyres = anyres_num_tokens((w, h), CANVASES)
    cols, rows = closest_aspect_ratio_grid((w, h))
    tiles = cols * rows + (1 if cols * rows > 1 else 0)  # + thumbnail
    qh, qw = smart_resize(h, w, min_pixels=QWEN_MIN, max_pixels=QWEN_MAX)
    qwen = (qh // 28) * (qw // 28)
    counts[name] = (anyres, 256 * tiles, qwen)
    grid = f"{canvas[0] // 336}x{canvas[1] // 336}"
    qgrid = f"{qw // 28}x{qh // 28}"
    print(
        f"{name + f' {w}x{h}':<23} | {576:>9} | {grid} {anyres:>6} |"
        f" {cols}x{rows}+1 {256 * tiles:>6} | {qgrid:<6} {qwen:>5}"
    )

assert counts["square photo"] == (2928, 2560, 1369)
assert counts["A4 document"] == (2256, 1792, 2772)
assert counts["panorama"] == (1890, 1280, 5148)
# The panorama keeps about 4 million pixels under the released bounds.
ph, pw = smart_resize(1000, 4000, min_pixels=QWEN_MIN, max_pixels=QWEN_MAX)
assert round(ph * pw / 1e6) == 4
# Qwen2-VL's paper example: 224 x 224 -> 8 x 8 = 64 tokens (+2 special).
assert smart_resize(224, 224) == (224, 224) and (224 // 28) ** 2 == 64
# A smaller budget, max_pixels = 1280 * 28 * 28 (the model card's example,
# also the constructor default of Hugging Face's Qwen2VLImageProcessor).
h, w = smart_resize(1754, 1240, max_pixels=1280 * 28 * 28)
print(
    f"A4 document at max_pixels = 1280*28*28: {w}x{h},"
    f" {(h // 28) * (w // 28)} tokens"
)
assert (w, h) == (840, 1176) and (h // 28) * (w // 28) == 1260

# Two images of 6 and 4 tokens packed into one sequence of the vision
# encoder: a block-diagonal mask, no padding, no cross-image attention.
lengths = [6, 4]
q, k, v = (torch.randn(1, 2, 10, 8, dtype=torch.float64) for _ in range(3))
mask = block_diagonal_mask(lengths)
packed = scaled_dot_product_attention(q, k, v, mask=mask)
alone = [
    scaled_dot_product_attention(q[..., s, :], k[..., s, :], v[..., s, :])
    for s in (slice(0, 6), slice(6, 10))
]
cross = attention_weights(q, k, mask=mask)[..., :6, 6:].abs().max().item()
print("packed mask (1 = may attend):")
for row in mask.int().tolist():
    print("  " + "".join(map(str, row)))
print(f"largest attention weight across images: {cross}")
assert cross == 0.0
assert torch.allclose(packed, torch.cat(alone, dim=2))
assert torch.allclose(
    packed, F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
)

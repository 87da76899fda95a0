"""vision: ViT patch embedding = stride-p convolution; layer taps; high-resolution tiling and resizing."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.attention import attention_weights, scaled_dot_product_attention
from mllm_handbook.vision import (
    TinyViT,
    anyres_num_tokens,
    block_diagonal_mask,
    closest_aspect_ratio_grid,
    patch_embedding,
    patchify,
    select_best_resolution,
    select_vision_features,
    smart_resize,
)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    p=st.integers(1, 4),
    grid_h=st.integers(1, 3),
    grid_w=st.integers(1, 3),
    channels=st.integers(1, 3),
)
def test_patch_embedding_equals_strided_conv(seed, p, grid_h, grid_w, channels):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(2, channels, grid_h * p, grid_w * p, generator=g, dtype=torch.float64)
    weight = torch.randn(5, channels, p, p, generator=g, dtype=torch.float64)
    bias = torch.randn(5, generator=g, dtype=torch.float64)
    conv = F.conv2d(images, weight, bias, stride=p).flatten(2).transpose(1, 2)
    torch.testing.assert_close(patch_embedding(images, weight, bias), conv)
    torch.testing.assert_close(patch_embedding(images, weight), conv - bias)


def test_patchify_order_by_hand():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    patches = patchify(image, 2)
    assert patches.shape == (1, 4, 4)
    # row-major patches: top-left, top-right, bottom-left, bottom-right
    assert patches[0].tolist() == [
        [0, 1, 4, 5],
        [2, 3, 6, 7],
        [8, 9, 12, 13],
        [10, 11, 14, 15],
    ]


def test_vit_base_token_count():
    assert patchify(torch.zeros(1, 3, 224, 224), 16).shape == (1, 196, 768)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="divisible by patch_size"):
        patchify(torch.zeros(1, 3, 10, 10), 4)
    with pytest.raises(ValueError, match=r"\[batch, channels, height, width\]"):
        patchify(torch.zeros(3, 8, 8), 4)
    with pytest.raises(ValueError, match="floating-point"):
        patchify(torch.zeros(1, 3, 8, 8, dtype=torch.long), 4)
    with pytest.raises(ValueError, match=r"patches are square"):
        patch_embedding(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 2, 3))


# --- ViT taps -------------------------------------------------------------------------------------


def test_tiny_vit_hidden_states_and_penultimate_tap():
    torch.manual_seed(0)
    vit = TinyViT(image_size=16, patch_size=4, dim=8, depth=3, num_heads=2).eval()
    images = torch.randn(2, 3, 16, 16)
    states = vit(images)
    assert len(states) == 4 and all(s.shape == (2, 17, 8) for s in states)
    # h_0 is the patch embedding (a stride-p conv) behind the CLS token, plus position embeddings.
    conv = F.conv2d(images, vit.patch.weight, vit.patch.bias, stride=4).flatten(2).transpose(1, 2)
    torch.testing.assert_close(states[0][:, 1:], conv + vit.pos[:, 1:])
    for layer in range(3):
        torch.testing.assert_close(states[layer + 1], vit.blocks[layer](states[layer]))
    # The penultimate tap does not depend on the last block: perturb it and only h_L moves.
    with torch.no_grad():
        for p in vit.blocks[-1].parameters():
            p.add_(1.0)
    again = vit(images)
    torch.testing.assert_close(again[-2], states[-2])
    assert (again[-1] - states[-1]).abs().max() > 1e-3


def test_select_vision_features_default_and_multi_layer():
    states = [torch.full((2, 5, 3), float(i)) for i in range(4)]  # h_0..h_3, CLS at index 0
    default = select_vision_features(states)
    torch.testing.assert_close(default, select_vision_features(states, layers=-2, drop_cls=True))
    assert default.shape == (2, 4, 3) and bool((default == 2.0).all())
    multi = select_vision_features(states, layers=(-1, -3))
    assert multi.shape == (2, 4, 6)
    assert multi[0, 0].tolist() == [3.0] * 3 + [1.0] * 3
    assert select_vision_features(states, layers=0, drop_cls=False).shape == (2, 5, 3)


def test_tiny_vit_rejects_indivisible_patch():
    with pytest.raises(ValueError, match="must divide image_size"):
        TinyViT(image_size=10, patch_size=4, dim=8, depth=1, num_heads=2)


# --- dynamic resolution -----------------------------------------------------------------------------

LLAVA_NEXT_336 = [(336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008)]


def select_best_resolution_reference(original_size, possible_resolutions):
    """The loop of LLaVA-NeXT's llava/mm_utils.py, restated."""
    ow, oh = original_size
    best_fit, max_eff, min_waste = None, 0, float("inf")
    for w, h in possible_resolutions:
        scale = min(w / ow, h / oh)
        eff = min(int(ow * scale) * int(oh * scale), ow * oh)
        waste = w * h - eff
        if eff > max_eff or (eff == max_eff and waste < min_waste):
            best_fit, max_eff, min_waste = (w, h), eff, waste
    return best_fit


@settings(max_examples=60, deadline=None)
@given(w=st.integers(20, 3000), h=st.integers(20, 3000))
def test_select_best_resolution_matches_reference(w, h):
    assert select_best_resolution((w, h), LLAVA_NEXT_336) == select_best_resolution_reference(
        (w, h), LLAVA_NEXT_336
    )


def test_select_best_resolution_by_hand():
    assert select_best_resolution((1000, 1000), LLAVA_NEXT_336) == (672, 672)  # most pixels kept
    assert select_best_resolution((1600, 500), LLAVA_NEXT_336) == (1008, 336)  # 3:1 beats 2:2 for 3.2:1
    # A small image fits every canvas: all tie on effective pixels, the least padding wins (first of the two).
    assert select_best_resolution((300, 300), LLAVA_NEXT_336) == (336, 672)


def unpadded_grid_by_tensor(image_size, canvas, g=24, tile=336):
    """Apply LLaVA-NeXT's unpad_image to an index grid and count rows and columns."""
    ow, oh = image_size
    grid = torch.zeros(1, canvas[1] // tile * g, canvas[0] // tile * g)
    ch, cw = grid.shape[1:]
    if ow / oh > cw / ch:
        new_h = int(oh * (cw / ow))
        pad = (ch - new_h) // 2
        grid = grid[:, pad : ch - pad, :]
    else:
        new_w = int(ow * (ch / oh))
        pad = (cw - new_w) // 2
        grid = grid[:, :, pad : cw - pad]
    return grid.shape[1], grid.shape[2]


@settings(max_examples=40, deadline=None)
@given(w=st.integers(50, 3000), h=st.integers(50, 3000))
def test_anyres_num_tokens_matches_unpad_on_a_tensor(w, h):
    rows, cols = unpadded_grid_by_tensor((w, h), select_best_resolution((w, h), LLAVA_NEXT_336))
    assert anyres_num_tokens((w, h), LLAVA_NEXT_336) == 576 + rows * (cols + 1)
    assert anyres_num_tokens((w, h), LLAVA_NEXT_336) == anyres_num_tokens((w, h), LLAVA_NEXT_336, 336, 14)


def test_anyres_square_672_is_576_plus_48_rows_of_49():
    assert anyres_num_tokens((672, 672), LLAVA_NEXT_336) == 576 + 48 * 49


def closest_ratio_reference(w, h, min_num=1, max_num=12, image_size=448):
    """InternVL's dynamic_preprocess + find_closest_aspect_ratio, restated."""
    target = sorted(
        {
            (i, j)
            for n in range(min_num, max_num + 1)
            for i in range(1, n + 1)
            for j in range(1, n + 1)
            if min_num <= i * j <= max_num
        },
        key=lambda x: x[0] * x[1],
    )
    best_diff, best = float("inf"), (1, 1)
    for ratio in target:
        diff = abs(w / h - ratio[0] / ratio[1])
        if diff < best_diff:
            best_diff, best = diff, ratio
        elif diff == best_diff and w * h > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
            best = ratio
    return best


@settings(max_examples=60, deadline=None)
@given(w=st.integers(20, 5000), h=st.integers(20, 5000), max_num=st.integers(1, 12))
def test_closest_aspect_ratio_grid_matches_reference(w, h, max_num):
    assert closest_aspect_ratio_grid((w, h), max_tiles=max_num) == closest_ratio_reference(
        w, h, max_num=max_num
    )


def test_closest_aspect_ratio_grid_defaults_and_ties():
    assert closest_aspect_ratio_grid((1000, 500)) == closest_aspect_ratio_grid((1000, 500), 1, 12, 448)
    assert closest_aspect_ratio_grid((300, 300)) == (1, 1)  # tie 1:1, 2:2, 3:3; too small for more
    assert closest_aspect_ratio_grid((1024, 1024)) == (3, 3)  # more than half of 3x3 tiles' pixels
    assert closest_aspect_ratio_grid((1000, 500), max_tiles=1) == (1, 1)
    assert closest_aspect_ratio_grid((1000, 500), min_tiles=3) == (4, 2)
    with pytest.raises(ValueError, match="min_tiles <= max_tiles"):
        closest_aspect_ratio_grid((10, 10), min_tiles=3, max_tiles=2)
    with pytest.raises(ValueError, match="min_tiles <= max_tiles"):
        closest_aspect_ratio_grid((10, 10), min_tiles=0)


@settings(max_examples=80, deadline=None)
@given(h=st.integers(28, 6000), w=st.integers(28, 6000))
def test_smart_resize_invariants(h, w):
    if max(h, w) / min(h, w) > 200:
        return
    rh, rw = smart_resize(h, w)
    assert rh % 28 == 0 and rw % 28 == 0
    assert rh * rw <= 28 * 28 * 1280
    assert rh * rw >= 56 * 56
    assert (rh, rw) == smart_resize(h, w, 28, 56 * 56, 28 * 28 * 1280)  # the pinned defaults


def test_smart_resize_by_hand():
    assert smart_resize(224, 224) == (
        224,
        224,
    )  # 8 x 8 = 64 tokens (66 with <|vision_start|>, <|vision_end|>)
    assert smart_resize(1000, 1000, max_pixels=12845056) == (1008, 1008)  # rounded to the nearest 28
    # Over budget: scale by sqrt(HW / max) and round down.
    h, w = smart_resize(2000, 3000)
    beta = math.sqrt(2000 * 3000 / (28 * 28 * 1280))
    assert (h, w) == (math.floor(2000 / beta / 28) * 28, math.floor(3000 / beta / 28) * 28)
    assert smart_resize(30, 30) == (56, 56)  # under min_pixels: scale up and round up
    assert smart_resize(28, 5600) == (28, 5600)  # valid edge: aspect ratio exactly 200
    with pytest.raises(ValueError, match="aspect ratio must be at most 200"):
        smart_resize(28, 5629)
    with pytest.raises(ValueError, match="must be >= 28"):
        smart_resize(27, 100)


def test_block_diagonal_mask_equals_encoding_each_image_alone():
    torch.manual_seed(0)
    lengths = [3, 5, 2]
    q, k, v = (torch.randn(1, 2, 10, 4, dtype=torch.float64) for _ in range(3))
    mask = block_diagonal_mask(lengths)
    assert mask.shape == (10, 10) and mask.sum() == 9 + 25 + 4
    packed = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(packed, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    start = 0
    for n in lengths:
        s = slice(start, start + n)
        torch.testing.assert_close(
            packed[..., s, :], scaled_dot_product_attention(q[..., s, :], k[..., s, :], v[..., s, :])
        )
        start += n
    assert attention_weights(q, k, mask=mask)[..., :3, 3:].abs().max() == 0  # no cross-image attention


def test_block_diagonal_mask_rejects_empty_images():
    assert block_diagonal_mask([1]).tolist() == [[True]]
    with pytest.raises(ValueError, match="lengths must be positive"):
        block_diagonal_mask([2, 0])
    with pytest.raises(ValueError, match="lengths must be positive"):
        block_diagonal_mask([])

"""vision: ViT patch embedding = stride-p convolution; layer taps."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.vision import (
    TinyViT,
    patch_embedding,
    patchify,
    select_vision_features,
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
    with pytest.raises(ValueError, match=r"weight must be \[D, C, p, p\]"):
        patch_embedding(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 2, 3))
    with pytest.raises(ValueError, match=r"images must be \[batch, 3, H, W\]"):
        patch_embedding(torch.zeros(1, 1, 8, 8), torch.zeros(4, 3, 2, 2))


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

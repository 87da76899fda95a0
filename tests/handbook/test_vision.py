"""vision: ViT patch embedding = stride-p convolution."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.vision import patch_embedding, patchify


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

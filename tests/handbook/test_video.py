"""video: frame sampling, token counts, the image-as-two-frames Conv3d identity and absolute-time ids."""

import math

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.video import (
    absolute_time_ids,
    duplicate_frames,
    fps_frame_indices,
    temporal_sum_kernel,
    uniform_frame_indices,
    video_token_count,
)

# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize(("n", "k"), [(300, 8), (97, 16), (10, 10), (7, 2), (5, 1)])
def test_uniform_frame_indices_match_linspace_round(n, k):
    out = uniform_frame_indices(n, k)
    expected = [round(j * (n - 1) / (k - 1)) if k > 1 else 0 for j in range(k)]
    assert out.tolist() == expected
    assert out.dtype == torch.long
    if k > 1:
        assert out[0].item() == 0 and out[-1].item() == n - 1
    assert (out.diff() > 0).all()  # k <= n: distinct frames


def test_uniform_frame_indices_bad_counts_raise():
    with pytest.raises(ValueError, match="num_samples"):
        uniform_frame_indices(10, 0)
    with pytest.raises(ValueError, match="num_samples"):
        uniform_frame_indices(10, 11)


def test_fps_frame_indices_integer_ratio():
    out = fps_frame_indices(300, video_fps=30.0, sample_fps=2.0)  # 10 s at 30 fps, keep 2 per second
    assert out.tolist() == list(range(0, 300, 15))
    assert fps_frame_indices(7, 25.0, 25.0).tolist() == list(range(7))  # f = F: every frame


def test_fps_frame_indices_fractional_ratio_and_count():
    out = fps_frame_indices(101, video_fps=25.0, sample_fps=2.0)  # one frame every 12.5 frames
    assert out.tolist() == [math.floor(k * 12.5) for k in range(9)]
    assert len(out) == math.ceil(101 * 2 / 25)
    assert out[-1].item() < 101
    times = out.double() / 25.0
    torch.testing.assert_close(times, torch.arange(9, dtype=torch.float64) / 2.0, atol=0.04, rtol=0)


def test_fps_frame_indices_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_frames"):
        fps_frame_indices(0, 30.0, 2.0)
    with pytest.raises(ValueError, match="sample_fps"):
        fps_frame_indices(10, 30.0, 0.0)
    with pytest.raises(ValueError, match="sample_fps"):
        fps_frame_indices(10, 30.0, 31.0)


# ---------------------------------------------------------------- tokens


def test_video_token_count_one_minute():
    assert video_token_count(120, 448, 448) == 60 * 16 * 16
    assert video_token_count(120, 448, 448) == video_token_count(
        120, 448, 448, patch_size=14, temporal_patch_size=2, merge_size=2
    )  # defaults
    assert video_token_count(3, 16, 24, patch_size=4, temporal_patch_size=1, merge_size=2) == 3 * 2 * 3


def test_video_token_count_equals_conv3d_then_merge():
    clip = torch.zeros(1, 3, 6, 56, 84)
    conv = torch.nn.Conv3d(3, 4, kernel_size=(2, 14, 14), stride=(2, 14, 14))
    tubes = conv(clip)  # [1, 4, 3, 4, 6]
    assert tubes[0, 0].numel() // (2 * 2) == video_token_count(6, 56, 84)


def test_video_token_count_bad_sizes_raise():
    with pytest.raises(ValueError, match="multiple of 2"):
        video_token_count(5, 28, 28)
    with pytest.raises(ValueError, match="multiples of 28"):
        video_token_count(4, 28, 42)


# ---------------------------------------------------------------- one encoder for images and video


def test_duplicate_frames_shape_and_default():
    images = torch.randn(2, 3, 5, 7)
    clip = duplicate_frames(images)
    assert clip.shape == (2, 3, 2, 5, 7)
    torch.testing.assert_close(clip[:, :, 0], images)
    torch.testing.assert_close(clip[:, :, 1], images)
    assert duplicate_frames(images, temporal_patch_size=3).shape == (2, 3, 3, 5, 7)


def test_conv3d_on_duplicated_image_equals_conv2d_with_summed_kernel():
    g = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 28, 42, generator=g, dtype=torch.float64)
    weight = torch.randn(5, 3, 2, 14, 14, generator=g, dtype=torch.float64)
    bias = torch.randn(5, generator=g, dtype=torch.float64) + 1.0
    video_path = F.conv3d(duplicate_frames(images), weight, bias, stride=(2, 14, 14)).squeeze(2)
    image_path = F.conv2d(images, temporal_sum_kernel(weight), bias, stride=14)
    torch.testing.assert_close(video_path, image_path)
    # with two different frames the identity does not hold for either frame
    clip = torch.stack([images, images.flip(-1)], dim=2)
    moving = F.conv3d(clip, weight, bias, stride=(2, 14, 14)).squeeze(2)
    assert not torch.allclose(moving, image_path)


def test_i3d_inflation_is_the_same_identity():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(1, 3, 8, 8, generator=g, dtype=torch.float64)
    weight2d = torch.randn(4, 3, 4, 4, generator=g, dtype=torch.float64)
    inflated = weight2d.unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3  # I3D: repeat over time, divide by T
    torch.testing.assert_close(temporal_sum_kernel(inflated), weight2d)
    boring = duplicate_frames(images, temporal_patch_size=3)
    out = F.conv3d(boring, inflated, stride=(3, 4, 4)).squeeze(2)
    torch.testing.assert_close(out, F.conv2d(images, weight2d, stride=4))


def test_one_encoder_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"\[batch, C, H, W\]"):
        duplicate_frames(torch.randn(3, 4, 4))
    with pytest.raises(ValueError, match="floating-point"):
        duplicate_frames(torch.ones(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="Conv3d weight"):
        temporal_sum_kernel(torch.randn(4, 3, 2, 2))


# ---------------------------------------------------------------- absolute time


def test_absolute_time_ids_values():
    assert absolute_time_ids(5, sample_fps=2.0).tolist() == [0, 2, 4, 6, 8]  # a group per second
    assert absolute_time_ids(3, sample_fps=1.0).tolist() == [0, 4, 8]  # a group per 2 s
    assert absolute_time_ids(4, sample_fps=4.0).tolist() == [0, 1, 2, 3]  # a group per 0.5 s
    assert absolute_time_ids(4, sample_fps=3.0).tolist() == [0, 1, 2, 4]  # floor(k * 4 / 3)
    torch.testing.assert_close(
        absolute_time_ids(6, 2.0), absolute_time_ids(6, 2.0, temporal_patch_size=2, tokens_per_second=2.0)
    )  # defaults


def test_absolute_time_ids_same_second_same_id_across_fps():
    seconds_to_id = {}
    for fps, groups in [(1.0, 4), (2.0, 8), (4.0, 16)]:  # 8 s of video at three rates
        ids = absolute_time_ids(groups, fps)
        for k, i in enumerate(ids.tolist()):
            second = k * 2 / fps
            assert seconds_to_id.setdefault(second, i) == i
    assert seconds_to_id[6.0] == 12


def test_absolute_time_ids_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_groups"):
        absolute_time_ids(0, 2.0)
    with pytest.raises(ValueError, match="sample_fps"):
        absolute_time_ids(3, 0.0)

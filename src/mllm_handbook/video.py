r"""Video for a multimodal LLM: which frames to keep, how many tokens they cost, and where they sit in time.

* Sampling: a fixed number of frames spread over the clip (:func:`uniform_frame_indices`) or a fixed rate in
  frames per second (:func:`fps_frame_indices`).
* Tokens: Qwen2-VL (Wang et al., 2024; arXiv 2409.12191) cuts a clip into $2 \times 14 \times 14$ tubes with a
  ``Conv3d`` and merges $2 \times 2$ neighbours, one LLM token per 2 frames $\times$ 28 $\times$ 28 pixels
  (:func:`video_token_count`). An image is two identical frames (:func:`duplicate_frames`), and then the
  ``Conv3d`` equals a ``Conv2d`` whose kernel is summed over time (:func:`temporal_sum_kernel`).
* Time: Qwen2.5-VL (Bai et al., 2025; arXiv 2502.13923) ties the temporal position id to seconds, not to the
  frame count (:func:`absolute_time_ids`).
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check, check_floating


def uniform_frame_indices(num_frames: int, num_samples: int) -> torch.Tensor:
    r"""``num_samples`` frame indices spread evenly from the first to the last frame.

    $$i_k = \mathrm{round}\left(k \cdot \frac{N - 1}{K - 1}\right),\quad k = 0, \dots, K - 1$$

    as in Qwen2-VL's ``qwen-vl-utils`` (``torch.linspace(0, N - 1, K).round()``). The cost is fixed
    whatever the clip's length; the time between samples grows with it.

    Args:
        num_frames: $N$, frames in the decoded clip.
        num_samples: $K$, frames to keep, $1 \le K \le N$.

    Returns:
        ``[K]`` int64 indices, increasing, first 0 and last $N - 1$ (for $K \ge 2$).
    """
    check(1 <= num_samples <= num_frames, f"need 1 <= num_samples <= {num_frames}, got {num_samples}")
    return torch.linspace(0, num_frames - 1, num_samples, dtype=torch.float64).round().long()


def fps_frame_indices(num_frames: int, video_fps: float, sample_fps: float) -> torch.Tensor:
    r"""Indices of the frames at times $0, 1/f, 2/f, \dots$ seconds: a fixed sampling rate $f$.

    $$i_k = \left\lfloor k \cdot \frac{F}{f} \right\rfloor,\quad k = 0, 1, \dots \text{ while } i_k < N$$

    with $F$ the clip's frame rate. The number of frames (and of tokens) grows with the clip's duration
    $N / F$; the frame $i_k$ shows time $i_k / F$.

    Args:
        num_frames: $N$.
        video_fps: $F$, frames per second of the decoded clip.
        sample_fps: $f \le F$, frames per second to keep (Qwen2-VL samples 2 per second).

    Returns:
        ``[ceil(N f / F)]`` int64 indices.
    """
    check(num_frames >= 1, f"num_frames must be >= 1, got {num_frames}")
    check(0 < sample_fps <= video_fps, f"need 0 < sample_fps <= video_fps, got {sample_fps}, {video_fps}")
    steps = torch.arange(0, num_frames * sample_fps / video_fps, dtype=torch.float64)
    return (steps * video_fps / sample_fps).floor().long()


def video_token_count(
    num_frames: int,
    height: int,
    width: int,
    patch_size: int = 14,
    temporal_patch_size: int = 2,
    merge_size: int = 2,
) -> int:
    r"""LLM tokens of a clip in a Qwen2-VL-style encoder (arXiv 2409.12191).

    A ``Conv3d`` cuts the clip into tubes of $t_p \times p \times p$ pixels, and the merger joins
    $m \times m$ neighbouring tubes into one token:

    $$\text{tokens} = \frac{N}{t_p} \cdot \frac{H}{p\,m} \cdot \frac{W}{p\,m}$$

    With the defaults, one token covers 2 frames of 28 x 28 pixels.

    Args:
        num_frames: $N$ sampled frames, a multiple of $t_p$.
        height: $H$ in pixels, a multiple of $p\,m$.
        width: $W$ in pixels, a multiple of $p\,m$.
        patch_size: $p$.
        temporal_patch_size: $t_p$.
        merge_size: $m$.

    Returns:
        Number of visual tokens the LLM reads.
    """
    side = patch_size * merge_size
    check(num_frames % temporal_patch_size == 0, f"num_frames must be a multiple of {temporal_patch_size}")
    check(height % side == 0 and width % side == 0, f"height and width must be multiples of {side}")
    return (num_frames // temporal_patch_size) * (height // side) * (width // side)


def duplicate_frames(images: torch.Tensor, temporal_patch_size: int = 2) -> torch.Tensor:
    r"""An image as a still clip: the same frame repeated ``temporal_patch_size`` times (Qwen2-VL).

    Args:
        images: ``[batch, C, H, W]``.
        temporal_patch_size: $t_p$, frames per tube.

    Returns:
        ``[batch, C, t_p, H, W]``, the layout ``nn.Conv3d`` expects.
    """
    check_floating(images, "images")
    check(images.dim() == 4, f"images must be [batch, C, H, W], got {list(images.shape)}")
    return images.unsqueeze(2).expand(-1, -1, temporal_patch_size, -1, -1)


def temporal_sum_kernel(weight: torch.Tensor) -> torch.Tensor:
    r"""The ``Conv2d`` kernel that a tube ``Conv3d`` applies to a still clip: the kernel summed over time.

    If every frame of a tube is the same image $x$,

    $$\sum_{\tau, c, i, j} W_{d c \tau i j}\, x_{c i j} = \sum_{c, i, j}\Big(\sum_{\tau} W_{d c \tau i j}\Big)\, x_{c i j}$$

    so one encoder serves images and video. I3D (Carreira and Zisserman, 2017; arXiv 1705.07750) uses the
    same identity the other way round: it inflates a 2-D kernel into 3-D by repeating it over time divided
    by the number of frames.

    Args:
        weight: ``[D, C, t_p, p, p]``, an ``nn.Conv3d`` weight.

    Returns:
        ``[D, C, p, p]``, an ``nn.Conv2d`` weight.
    """
    check(weight.dim() == 5, f"weight must be a Conv3d weight [D, C, T, p, p], got {list(weight.shape)}")
    return weight.sum(dim=2)


def absolute_time_ids(
    num_groups: int, sample_fps: float, temporal_patch_size: int = 2, tokens_per_second: float = 2.0
) -> torch.Tensor:
    r"""Qwen2.5-VL temporal position ids tied to seconds (Bai et al., 2025; arXiv 2502.13923).

    Temporal group $k$ (frames $k\,t_p, \dots, k\,t_p + t_p - 1$ sampled at $f$ frames per second) starts at
    $k\,t_p / f$ seconds, and gets the id

    $$\mathrm{id}_k = \left\lfloor \frac{k\,t_p}{f} \cdot \tau \right\rfloor$$

    with $\tau$ ids per second (``tokens_per_second``, 2 in the released Qwen2.5-VL config), as in the
    Transformers implementation. Qwen2-VL used $\mathrm{id}_k = k$, so the same id meant different times at
    different sampling rates.

    Args:
        num_groups: temporal groups (sampled frames / $t_p$).
        sample_fps: $f$.
        temporal_patch_size: $t_p$.
        tokens_per_second: $\tau$.

    Returns:
        ``[num_groups]`` int64 ids, before the offset of the text that precedes the video.
    """
    check(num_groups >= 1, f"num_groups must be >= 1, got {num_groups}")
    check(sample_fps > 0, f"sample_fps must be > 0, got {sample_fps}")
    seconds = torch.arange(num_groups, dtype=torch.float64) * temporal_patch_size / sample_fps
    return (seconds * tokens_per_second).floor().long()

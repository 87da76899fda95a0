r"""Turning an image into a token sequence: the ViT patch embedding (Dosovitskiy et al., 2020).

A Vision Transformer cuts an image into non-overlapping $p \times p$ patches, flattens each patch and maps
it linearly to the model width. Implementations write this as a convolution with kernel size and stride
$p$; :func:`patchify` plus a matrix product is the same computation, which shows that an image becomes
"just a sequence of tokens" that a Transformer can share with text.
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check, check_floating


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    r"""Cut images into flattened non-overlapping patches, in row-major patch order.

    An image $x \in \mathbb{R}^{C \times H \times W}$ becomes $N = HW/p^2$ vectors of length $C p^2$; each
    vector lists the patch's channels first, then rows, then columns (the layout of a conv kernel).

    Args:
        images: ``[batch, channels, height, width]``; height and width divisible by ``patch_size``.
        patch_size: side $p$ of a square patch.

    Returns:
        ``[batch, num_patches, channels * patch_size**2]`` with ``num_patches = (H / p) * (W / p)``.
    """
    check_floating(images, "images")
    check(images.dim() == 4, f"images must be [batch, channels, height, width], got {list(images.shape)}")
    batch, channels, height, width = images.shape
    check(
        patch_size >= 1 and height % patch_size == 0 and width % patch_size == 0,
        f"image size {height}x{width} must be divisible by patch_size {patch_size}",
    )
    p = patch_size
    patches = images.reshape(batch, channels, height // p, p, width // p, p)
    patches = patches.permute(0, 2, 4, 1, 3, 5)  # [batch, H/p, W/p, C, p, p]
    return patches.reshape(batch, (height // p) * (width // p), channels * p * p)


def patch_embedding(
    images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    r"""ViT patch embedding as flatten + linear (Dosovitskiy et al., 2020, eq. 1).

    $$z_i = E\,\mathrm{vec}(x_i) + b,\quad E \in \mathbb{R}^{D \times C p^2},\quad i = 1, \dots, HW/p^2$$

    With ``weight`` in ``nn.Conv2d`` layout $[D, C, p, p]$, this equals a convolution with kernel size and
    stride $p$, flattened over the spatial grid.

    Args:
        images: ``[batch, C, H, W]``.
        weight: ``[D, C, p, p]``, square kernel.
        bias: optional ``[D]``.

    Returns:
        ``[batch, HW/p^2, D]`` patch tokens (no class token, no position embedding).
    """
    check(
        weight.dim() == 4 and weight.shape[-1] == weight.shape[-2],
        f"weight must be [D, C, p, p], got {list(weight.shape)}",
    )
    check(
        images.dim() == 4 and images.shape[1] == weight.shape[1],
        f"images must be [batch, {weight.shape[1]}, H, W] to match weight, got {list(images.shape)}",
    )
    tokens = patchify(images, weight.shape[-1]) @ weight.reshape(weight.shape[0], -1).T
    return tokens + bias if bias is not None else tokens

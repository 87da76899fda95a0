r"""Turning an image into a token sequence: the ViT patch embedding (Dosovitskiy et al., 2020).

A Vision Transformer cuts an image into non-overlapping $p \times p$ patches, flattens each patch and maps
it linearly to the model width. Implementations write this as a convolution with kernel size and stride
$p$; :func:`patchify` plus a matrix product is the same computation, which shows that an image becomes
"just a sequence of tokens" that a Transformer can share with text.

* :class:`TinyViT` returns every layer's hidden states; :func:`select_vision_features` taps the layer(s)
  an MLLM reads (LLaVA: the penultimate one).
"""

from __future__ import annotations

import torch
from torch import nn

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


class TinyViT(nn.Module):
    r"""A minimal pre-LN ViT that returns all hidden states (Dosovitskiy et al., 2020, arXiv 2010.11929).

    $$h_0 = [x_{\mathrm{cls}};\ E\,\mathrm{vec}(x_1); \dots; E\,\mathrm{vec}(x_N)] + E_{\mathrm{pos}},\qquad
    h_\ell = \mathrm{Block}_\ell(h_{\ell-1}),\ \ell = 1, \dots, L$$

    ``forward`` returns ``[h_0, h_1, ..., h_L]`` like Hugging Face's ``output_hidden_states=True``, so
    index ``-1`` is the last layer and ``-2`` the penultimate one (the layer LLaVA reads).

    Args:
        image_size: side of the square input image.
        patch_size: side $p$ of a patch; must divide ``image_size``.
        dim: model width.
        depth: number of Transformer blocks $L$.
        num_heads: attention heads; must divide ``dim``.
    """

    def __init__(self, image_size: int, patch_size: int, dim: int, depth: int, num_heads: int) -> None:
        super().__init__()
        check(image_size % patch_size == 0, f"patch_size {patch_size} must divide image_size {image_size}")
        self.patch = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 1 + (image_size // patch_size) ** 2, dim) * 0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, num_heads, 4 * dim, 0.0, "gelu", batch_first=True, norm_first=True
            )
            for _ in range(depth)
        )

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``[batch, 3, H, W]`` → ``depth + 1`` tensors of shape ``[batch, 1 + N, dim]``."""
        tokens = patch_embedding(images, self.patch.weight, self.patch.bias)
        hidden = torch.cat([self.cls.expand(len(images), -1, -1), tokens], dim=1) + self.pos
        states = [hidden]
        for block in self.blocks:
            states.append(block(states[-1]))
        return states


def select_vision_features(
    hidden_states: list[torch.Tensor], layers: int | tuple[int, ...] = -2, drop_cls: bool = True
) -> torch.Tensor:
    r"""The patch features an MLLM reads from a ViT: one layer, or several concatenated on channels.

    LLaVA takes ``hidden_states[-2]`` (the penultimate layer of CLIP ViT-L/14) and drops the CLS token
    (``mm_vision_select_layer=-2``, ``mm_vision_select_feature='patch'``; Liu et al., 2023, §4).
    With several layers the taps are concatenated: $[h_{\ell_1}; h_{\ell_2}; \dots] \in
    \mathbb{R}^{N \times kD}$.

    Args:
        hidden_states: ``[h_0, ..., h_L]``, each ``[batch, 1 + N, D]`` (CLS first), as :class:`TinyViT`.
        layers: an index into ``hidden_states`` or a tuple of indices.
        drop_cls: drop the first token (the CLS token), keeping the $N$ patch tokens.

    Returns:
        ``[batch, N, k * D]`` for ``k`` selected layers (``N + 1`` tokens if ``drop_cls`` is False).
    """
    layers = (layers,) if isinstance(layers, int) else layers
    picked = torch.cat([hidden_states[i] for i in layers], dim=-1)
    return picked[:, 1:] if drop_cls else picked

r"""Turning an image into a token sequence: the ViT patch embedding (Dosovitskiy et al., 2020).

A Vision Transformer cuts an image into non-overlapping $p \times p$ patches, flattens each patch and maps
it linearly to the model width. Implementations write this as a convolution with kernel size and stride
$p$; :func:`patchify` plus a matrix product is the same computation, which shows that an image becomes
"just a sequence of tokens" that a Transformer can share with text.

* :class:`TinyViT` returns every layer's hidden states; :func:`select_vision_features` taps the layer(s)
  an MLLM reads (LLaVA: the penultimate one).
* High-resolution input: LLaVA-NeXT's AnyRes grid (:func:`select_best_resolution`,
  :func:`anyres_num_tokens`), InternVL 1.5's tiles (:func:`closest_aspect_ratio_grid`), Qwen2-VL's
  native resolution (:func:`smart_resize`), and several images packed into one sequence
  (:func:`block_diagonal_mask`).
"""

from __future__ import annotations

import math

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
    check(weight.shape[-1] == weight.shape[-2], f"ViT patches are square [D, C, p, p], got {weight.shape}")
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


def select_best_resolution(image_size: tuple[int, int], candidates: list[tuple[int, int]]) -> tuple[int, int]:
    r"""LLaVA-NeXT's AnyRes grid choice: the candidate canvas that keeps the most of the image's pixels.

    For a canvas $(W_c, H_c)$ the image $(W, H)$ is scaled by $s = \min(W_c/W, H_c/H)$ to fit. Pick the
    canvas with the largest effective resolution $\min(\lfloor sW \rfloor \lfloor sH \rfloor, WH)$ (no
    credit for upsampling), breaking ties by the least wasted area $W_c H_c$ minus it. Same rule as
    ``select_best_resolution`` in the released LLaVA-NeXT code (``llava/mm_utils.py``, 2024).

    Args:
        image_size: ``(width, height)`` of the input image.
        candidates: ``[(width, height), ...]`` canvases, multiples of the encoder's input size.

    Returns:
        The chosen ``(width, height)``.
    """
    width, height = image_size
    best, best_key = candidates[0], (-1, 0)
    for cw, ch in candidates:
        scale = min(cw / width, ch / height)
        effective = min(int(width * scale) * int(height * scale), width * height)
        key = (effective, -(cw * ch - effective))  # more effective pixels, then less waste
        if key > best_key:
            best, best_key = (cw, ch), key
    return best


def anyres_num_tokens(
    image_size: tuple[int, int], candidates: list[tuple[int, int]], tile_size: int = 336, patch_size: int = 14
) -> int:
    r"""Visual tokens of LLaVA-NeXT's AnyRes with ``spatial_unpad`` (released code, 2024).

    The image is resized into the chosen canvas and cut into $a \times b$ tiles of ``tile_size``; each tile
    and a resized global view give $g^2$ patch features, $g$ = ``tile_size // patch_size``. The tile grid
    of $bg \times ag$ features is cropped back to the image's aspect ratio ($h' \times w'$), and one
    learned newline token ends each row:

    $$T = g^2 + h'(w' + 1)$$

    Args:
        image_size: ``(width, height)``.
        candidates: canvases for :func:`select_best_resolution`, e.g. 336 × {(1, 2), (2, 1), (2, 2), (3, 1),
            (1, 3)} for LLaVA-NeXT with CLIP-336.
        tile_size: encoder input side (336 for CLIP ViT-L/14-336).
        patch_size: ViT patch side (14).

    Returns:
        Number of visual tokens $T$ that enter the LLM.
    """
    width, height = image_size
    canvas_w, canvas_h = select_best_resolution(image_size, candidates)
    g = tile_size // patch_size
    rows, cols = canvas_h // tile_size * g, canvas_w // tile_size * g  # feature grid before unpadding
    if width / height > cols / rows:  # wider than the grid: padding was added above and below
        new_rows = int(height * (cols / width))
        rows -= 2 * ((rows - new_rows) // 2)
    else:  # taller (or equal): padding left and right
        new_cols = int(width * (rows / height))
        cols -= 2 * ((cols - new_cols) // 2)
    return g * g + rows * (cols + 1)


def closest_aspect_ratio_grid(
    image_size: tuple[int, int], min_tiles: int = 1, max_tiles: int = 12, tile_size: int = 448
) -> tuple[int, int]:
    r"""InternVL 1.5's tile grid: the $(c, r)$ grid whose aspect ratio $c/r$ is closest to $W/H$.

    Candidates are all grids with ``min_tiles`` $\le c r \le$ ``max_tiles``, in order of increasing $cr$.
    On a tie in $|W/H - c/r|$ the larger grid wins only if the image has more than half its pixels,
    $WH > \tfrac12 \cdot 448^2 \cdot c r$ (``find_closest_aspect_ratio`` in InternVL's released code;
    Chen et al., 2024, arXiv 2404.16821). The image is then resized to $448c \times 448r$, cut into $cr$
    tiles, and a $448 \times 448$ thumbnail of the whole image is added when $cr > 1$.

    Args:
        image_size: ``(width, height)``.
        min_tiles: fewest tiles allowed.
        max_tiles: most tiles allowed (12 in InternVL 1.5 training, up to 40 at test time).
        tile_size: tile side in pixels.

    Returns:
        ``(columns, rows)``.
    """
    check(1 <= min_tiles <= max_tiles, f"need 1 <= min_tiles <= max_tiles, got {min_tiles}, {max_tiles}")
    width, height = image_size
    grids = sorted(
        {
            (c, r)
            for c in range(1, max_tiles + 1)
            for r in range(1, max_tiles + 1)
            if min_tiles <= c * r <= max_tiles
        },
        key=lambda g: g[0] * g[1],
    )
    best, best_diff = (1, 1), float("inf")
    for c, r in grids:
        diff = abs(width / height - c / r)
        if diff < best_diff:
            best, best_diff = (c, r), diff
        elif diff == best_diff and width * height > 0.5 * tile_size**2 * c * r:
            best = (c, r)
    return best


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 28 * 28 * 1280
) -> tuple[int, int]:
    r"""Qwen2-VL's resize: both sides multiples of ``factor``, pixel count in a budget, aspect ratio kept.

    Round each side to the nearest multiple of $f = 28$ (a $14 \times 14$ patch, then a $2 \times 2$
    merge, so one LLM token per $28 \times 28$ pixels). If $\bar H \bar W$ exceeds ``max_pixels``, shrink
    by $\beta = \sqrt{HW / \text{max}}$ and round down; if it is below ``min_pixels``, grow by
    $\beta = \sqrt{\text{min} / HW}$ and round up. Defaults are those of the Hugging Face
    ``Qwen2VLImageProcessor`` (2024); the released Qwen2-VL-7B-Instruct ``preprocessor_config.json``
    sets ``max_pixels = 12845056`` ($16384 \cdot 28^2$).

    Args:
        height: image height $H$ in pixels, at least ``factor``.
        width: image width $W$ in pixels, at least ``factor``.
        factor: side of the pixel block behind one LLM token.
        min_pixels: smallest allowed $\bar H \bar W$.
        max_pixels: largest allowed $\bar H \bar W$.

    Returns:
        ``(new_height, new_width)``; the image gives $\bar H \bar W / f^2$ visual tokens.
    """
    check(height >= factor and width >= factor, f"height and width must be >= {factor}, got {height}x{width}")
    check(max(height, width) / min(height, width) <= 200, "aspect ratio must be at most 200")
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar, w_bar = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def block_diagonal_mask(lengths: list[int]) -> torch.Tensor:
    r"""Attention mask for several images packed into one sequence: each token sees only its own image.

    $$m_{ij} = [\,\mathrm{img}(i) = \mathrm{img}(j)\,]$$

    Bidirectional inside an image, nothing across images: the same attention as encoding each image
    on its own, without padding (Qwen2-VL's ViT does this with ``cu_seqlens``; Wang et al., 2024).

    Args:
        lengths: tokens per image, each at least 1.

    Returns:
        ``[sum(lengths), sum(lengths)]`` boolean, ``True`` = may attend.
    """
    check(len(lengths) > 0 and min(lengths) >= 1, f"lengths must be positive, got {lengths}")
    image_ids = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    return image_ids[:, None] == image_ids[None, :]

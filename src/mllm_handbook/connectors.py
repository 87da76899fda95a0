r"""Connectors: how vision features reach a language model.

A vision encoder turns an image into ``N`` patch features of width ``d_v``; the language model works on
token embeddings of width ``d``. A connector bridges the two, in one of two places:

* **Input-level** (the LLM reads visual *tokens*): a linear projector (LLaVA), a two-layer MLP (LLaVA-1.5),
  or a query-based resampler (Flamingo's Perceiver Resampler, BLIP-2's Q-Former) that returns a fixed
  number of tokens however many patches come in.
* **Layer-level** (the LLM *cross-attends* to visual features): Flamingo's gated cross-attention blocks,
  inserted between frozen LM layers, with a ``tanh`` gate initialised at 0 so that the model starts out
  as the unchanged language model.

Fewer visual tokens: :func:`space_to_depth` (2 × 2 merge, = ``F.pixel_unshuffle``) under Qwen2-VL's
:class:`PatchMerger` and InternVL's :func:`internvl_pixel_shuffle`; :func:`avg_pool_tokens`; and
:func:`fastv_prune`, which drops image tokens inside the LLM after an early layer.

Shapes: patches ``[batch, num_patches, vision_dim]``, text hidden states ``[batch, seq, dim]``.
"""

from __future__ import annotations

import torch
from torch import nn

from mllm_handbook._checks import check
from mllm_handbook.attention import merge_heads, scaled_dot_product_attention, split_heads


def _check_features(x: torch.Tensor, name: str, width: int) -> None:
    check(x.dim() == 3, f"{name} must have shape [batch, tokens, {width}], got {list(x.shape)}")
    check(x.shape[-1] == width, f"{name} last dim must be {width}, got {x.shape[-1]}")
    check(x.is_floating_point(), f"{name} must be a floating-point tensor, got {x.dtype}")


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Multi-head attention of already projected ``[batch, len, dim]`` queries, keys and values, no mask."""
    q, k, v = (split_heads(x, num_heads) for x in (q, k, v))
    return merge_heads(scaled_dot_product_attention(q, k, v))


class LinearProjector(nn.Module):
    r"""LLaVA's connector: one linear map from vision width to LLM width (Liu et al., 2023).

    $$H_v = W Z_v + b$$

    Every patch becomes one LLM token, so the token count equals the patch count.

    Args:
        vision_dim: width $d_v$ of the patch features.
        llm_dim: width $d$ of the LLM's token embeddings.
    """

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.vision_dim = vision_dim
        self.proj = nn.Linear(vision_dim, llm_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``[batch, num_patches, vision_dim]`` → ``[batch, num_patches, llm_dim]``."""
        _check_features(patches, "patches", self.vision_dim)
        return self.proj(patches)


class MLPProjector(nn.Module):
    r"""LLaVA-1.5's connector: a two-layer MLP with a GELU in between (Liu et al., 2023b).

    $$H_v = W_2\, \mathrm{GELU}(W_1 Z_v + b_1) + b_2$$

    Still one token per patch; the extra non-linearity is what LLaVA-1.5 reports as improving over the
    linear projector.

    Args:
        vision_dim: width $d_v$ of the patch features.
        llm_dim: width $d$ of the LLM's token embeddings (also the hidden width, as in LLaVA-1.5).
    """

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.vision_dim = vision_dim
        self.net = nn.Sequential(nn.Linear(vision_dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``[batch, num_patches, vision_dim]`` → ``[batch, num_patches, llm_dim]``."""
        _check_features(patches, "patches", self.vision_dim)
        return self.net(patches)


class QueryResampler(nn.Module):
    r"""Learned queries cross-attend to the patches: a one-layer Perceiver Resampler / Q-Former core.

    $$Q' = Q + \mathrm{Attn}(Q W_q,\ [Z_v; Q] W_k,\ [Z_v; Q] W_v) W_o,\qquad H_v = (Q' + \mathrm{FFW}(Q')) W_{out}$$

    The $M$ queries $Q \in \mathbb{R}^{M \times d_v}$ are parameters, so the output always has $M$ tokens,
    whatever the number of patches $N$ (Flamingo: 64 tokens; BLIP-2: 32). As in Flamingo's Perceiver
    Resampler, the keys and values are the patches concatenated with the queries (Alayrac et al., 2022);
    BLIP-2's Q-Former adds self-attention among the queries and a text branch (Li et al., 2023).

    Args:
        vision_dim: width $d_v$ of the patch features (and of the queries).
        llm_dim: width $d$ of the output tokens.
        num_queries: $M$, the fixed number of output tokens.
        num_heads: attention heads; must divide ``vision_dim``.
    """

    def __init__(self, vision_dim: int, llm_dim: int, num_queries: int, num_heads: int = 1) -> None:
        super().__init__()
        check(num_queries >= 1, f"num_queries must be >= 1, got {num_queries}")
        check(vision_dim % num_heads == 0, f"num_heads={num_heads} must divide vision_dim={vision_dim}")
        self.vision_dim, self.num_heads = vision_dim, num_heads
        self.queries = nn.Parameter(torch.randn(num_queries, vision_dim) * vision_dim**-0.5)
        self.q, self.k, self.v, self.o = (nn.Linear(vision_dim, vision_dim) for _ in range(4))
        self.ffw = nn.Sequential(
            nn.LayerNorm(vision_dim),
            nn.Linear(vision_dim, 4 * vision_dim),
            nn.GELU(),
            nn.Linear(4 * vision_dim, vision_dim),
        )
        self.out = nn.Linear(vision_dim, llm_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``[batch, num_patches, vision_dim]`` → ``[batch, num_queries, llm_dim]``."""
        _check_features(patches, "patches", self.vision_dim)
        queries = self.queries.expand(patches.shape[0], -1, -1)
        context = torch.cat([patches, queries], dim=1)
        attended = _attend(self.q(queries), self.k(context), self.v(context), self.num_heads)
        latents = queries + self.o(attended)
        latents = latents + self.ffw(latents)
        return self.out(latents)


class GatedCrossAttentionBlock(nn.Module):
    r"""Flamingo's GATED XATTN-DENSE block, inserted before a frozen LM layer (Alayrac et al., 2022).

    $$y = x + \tanh(\alpha_{\mathrm{xattn}})\, \mathrm{Attn}(x W_q,\ Z_v W_k,\ Z_v W_v) W_o$$

    $$x' = y + \tanh(\alpha_{\mathrm{dense}})\, \mathrm{FFW}(y)$$

    Both gates $\alpha$ are scalars initialised at 0, so at initialisation $x' = x$: the LM's hidden
    states, and hence its outputs, are exactly those of the text-only model. Training opens the gates.

    Args:
        dim: width of the LM hidden states.
        vision_dim: width of the visual tokens (e.g. the resampler's output).
        num_heads: attention heads; must divide ``dim``.
    """

    def __init__(self, dim: int, vision_dim: int, num_heads: int = 1) -> None:
        super().__init__()
        check(dim % num_heads == 0, f"num_heads={num_heads} must divide dim={dim}")
        self.dim, self.vision_dim, self.num_heads = dim, vision_dim, num_heads
        self.norm = nn.LayerNorm(dim)
        self.q, self.o = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.k, self.v = nn.Linear(vision_dim, dim), nn.Linear(vision_dim, dim)
        self.ffw = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
        )
        self.alpha_xattn = nn.Parameter(torch.zeros(()))
        self.alpha_dense = nn.Parameter(torch.zeros(()))

    def forward(self, hidden: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """``hidden [batch, seq, dim]``, ``visual [batch, num_visual, vision_dim]`` → ``[batch, seq, dim]``."""
        _check_features(hidden, "hidden", self.dim)
        _check_features(visual, "visual", self.vision_dim)
        check(hidden.shape[0] == visual.shape[0], "hidden and visual must have the same batch size")
        h = self.norm(hidden)
        attended = _attend(self.q(h), self.k(visual), self.v(visual), self.num_heads)
        y = hidden + torch.tanh(self.alpha_xattn) * self.o(attended)
        return y + torch.tanh(self.alpha_dense) * self.ffw(y)


def space_to_depth(tokens: torch.Tensor, height: int, width: int, factor: int = 2) -> torch.Tensor:
    r"""Merge each $f \times f$ window of a token grid into one token: $f^2$ times fewer, $f^2$ times wider.

    A ``[batch, H*W, C]`` row-major grid becomes ``[batch, (H/f)(W/f), C f^2]``; output token $(i, j)$
    concatenates the $f^2$ neighbours $(fi + a, fj + b)$, channel-major as ``F.pixel_unshuffle`` (which
    this equals on the ``[batch, C, H, W]`` layout). No parameters and no information lost: the
    following linear layer decides how to mix the neighbours.

    Args:
        tokens: ``[batch, height * width, C]`` in row-major order.
        height: grid height $H$, divisible by ``factor``.
        width: grid width $W$, divisible by ``factor``.
        factor: window side $f$.

    Returns:
        ``[batch, (height // factor) * (width // factor), C * factor**2]``.
    """
    check(height % factor == 0 and width % factor == 0, f"grid {height}x{width} not divisible by {factor}")
    batch, _, channels = tokens.shape
    f = factor
    x = tokens.reshape(batch, height // f, f, width // f, f, channels)
    x = x.permute(0, 1, 3, 5, 2, 4)  # [batch, H/f, W/f, C, f, f]
    return x.reshape(batch, (height // f) * (width // f), channels * f * f)


def internvl_pixel_shuffle(x: torch.Tensor, scale_factor: float = 0.5) -> torch.Tensor:
    r"""InternVL's "pixel shuffle", as its released ``pixel_shuffle`` (Chen et al., 2024, arXiv 2404.16821).

    Two reshapes and two transposes take ``[N, W, H, C]`` to ``[N, W/2, H/2, 4C]``: the same $2 \times 2$
    space-to-depth as :func:`space_to_depth` (what PyTorch calls *pixel unshuffle*), with the four
    neighbours' channels in another fixed order. A 448-pixel tile's $32 \times 32$ patches become
    $16 \times 16 = 256$ tokens.

    Args:
        x: ``[N, W, H, C]`` feature grid.
        scale_factor: $1/f$; 0.5 merges $2 \times 2$.

    Returns:
        ``[N, W * scale, H * scale, C / scale**2]``.
    """
    n, w, h, c = x.shape
    x = x.reshape(n, w, int(h * scale_factor), int(c / scale_factor))
    x = x.permute(0, 2, 1, 3)
    x = x.reshape(n, int(h * scale_factor), int(w * scale_factor), int(c / scale_factor**2))
    return x.permute(0, 2, 1, 3)


def avg_pool_tokens(tokens: torch.Tensor, height: int, width: int, stride: int = 2) -> torch.Tensor:
    r"""Average each $s \times s$ window of a token grid: tokens $\div s^2$, channels unchanged.

    $$y_{ij} = \frac{1}{s^2}\sum_{a,b=0}^{s-1} x_{si + a,\ sj + b}$$

    Equals ``F.avg_pool2d(kernel_size=s)`` on the ``[batch, C, H, W]`` layout; unlike
    :func:`space_to_depth` it throws information away (MM1 compares it with other connectors;
    McKinzie et al., 2024).

    Args:
        tokens: ``[batch, height * width, C]`` row-major.
        height: grid height, divisible by ``stride``.
        width: grid width, divisible by ``stride``.
        stride: window side $s$.

    Returns:
        ``[batch, (height // stride) * (width // stride), C]``.
    """
    batch, _, channels = tokens.shape
    merged = space_to_depth(tokens, height, width, stride)  # [batch, T, C * s * s], channel-major
    return merged.reshape(batch, merged.shape[1], channels, stride * stride).mean(dim=-1)


class PatchMerger(nn.Module):
    r"""Qwen2-VL's merger: LayerNorm, concatenate each $2 \times 2$ window, then a two-layer MLP.

    $$H_v = W_2\,\mathrm{GELU}\left(W_1 [\mathrm{LN}(x_{a}); \mathrm{LN}(x_{b}); \mathrm{LN}(x_{c});
    \mathrm{LN}(x_{d})] + b_1\right) + b_2,\quad W_1 \in \mathbb{R}^{4C \times 4C},\ W_2 \in \mathbb{R}^{d
    \times 4C}$$

    Four ViT tokens of width $C$ become one LLM token of width $d$ (Wang et al., 2024, arXiv 2409.12191;
    ``PatchMerger`` in the released code, with $C = 1280$ and ``spatial_merge_size = 2``). The order of
    the four neighbours inside the concatenation does not matter: $W_1$ is learned.

    Args:
        vision_dim: ViT width $C$.
        llm_dim: LLM width $d$.
        merge: window side (2).
    """

    def __init__(self, vision_dim: int, llm_dim: int, merge: int = 2) -> None:
        super().__init__()
        self.vision_dim, self.merge = vision_dim, merge
        hidden = vision_dim * merge * merge
        self.norm = nn.LayerNorm(vision_dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, llm_dim))

    def forward(self, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """``[batch, height * width, vision_dim]`` → ``[batch, height * width / merge², llm_dim]``."""
        _check_features(tokens, "tokens", self.vision_dim)
        return self.mlp(space_to_depth(self.norm(tokens), height, width, self.merge))


def fastv_prune(
    hidden: torch.Tensor, attention: torch.Tensor, image_start: int, num_image_tokens: int, num_keep: int
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""FastV-style pruning of image tokens after layer $K$ (Chen et al., 2024, arXiv 2403.06764).

    Score each image token by the attention the **last** token pays it in layer $K$, averaged over heads
    (as in the released FastV code), keep the ``num_keep`` best, and drop the rest from every later
    layer. Kept tokens keep their **original** position ids, so RoPE still sees the true distances:

    $$\mathrm{score}_j = \frac{1}{H}\sum_{h=1}^{H} A^{(K)}_{h,\,L-1,\,j},\quad j \in \text{image span}$$

    Args:
        hidden: ``[batch, L, D]`` hidden states entering layer $K + 1$.
        attention: ``[batch, heads, L, L]`` attention weights of layer $K$.
        image_start: index of the first image token.
        num_image_tokens: length of the image span.
        num_keep: image tokens to keep, ``0 <= num_keep <= num_image_tokens``.

    Returns:
        ``(hidden_kept [batch, L', D], position_ids [batch, L'])`` with
        ``L' = L - num_image_tokens + num_keep``; ``position_ids`` are the kept indices, ascending.
    """
    check(0 <= num_keep <= num_image_tokens, f"need 0 <= num_keep <= {num_image_tokens}, got {num_keep}")
    batch, length, _ = hidden.shape
    span = slice(image_start, image_start + num_image_tokens)
    score = attention[:, :, -1, span].mean(dim=1)  # [batch, num_image_tokens]
    top = score.topk(num_keep, dim=-1).indices + image_start
    rest = torch.cat([torch.arange(image_start), torch.arange(span.stop, length)]).expand(batch, -1)
    keep = torch.cat([rest, top], dim=1).sort(dim=1).values
    return hidden.gather(1, keep[..., None].expand(-1, -1, hidden.shape[-1])), keep

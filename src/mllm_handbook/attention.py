r"""Scaled dot-product attention and multi-head attention, written out.

Attention lets every query position read a weighted average of value vectors; the weights come from a softmax
over query-key dot products. A boolean mask decides which keys each query may read (``True`` = may attend),
the same convention as ``torch.nn.functional.scaled_dot_product_attention``. The masks that make a model
causal, bidirectional or prefix-style live in :mod:`mllm_handbook.masks`.
"""

from __future__ import annotations

import math

import torch

from mllm_handbook._checks import check, check_floating
from mllm_handbook.masks import causal_mask


def attention_weights(
    q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None, is_causal: bool = False
) -> torch.Tensor:
    r"""Attention probabilities $A = \mathrm{softmax}(QK^\top/\sqrt{d_k} + M)$ (Vaswani et al., 2017, eq. 1).

    $$A_{ij} = \frac{\exp(q_i \cdot k_j / \sqrt{d_k})\,[m_{ij}]}{\sum_{l} \exp(q_i \cdot k_l / \sqrt{d_k})\,[m_{il}]}$$

    A query whose mask row is all ``False`` gets all-zero weights (as PyTorch does), not NaN.

    Args:
        q: ``[..., L_q, d_k]`` queries.
        k: ``[..., L_k, d_k]`` keys.
        mask: optional boolean mask broadcastable to ``[..., L_q, L_k]``; ``True`` = may attend.
        is_causal: use the (top-left aligned) causal mask; cannot be combined with ``mask``.

    Returns:
        ``[..., L_q, L_k]`` weights; each row sums to 1 (or 0 if fully masked).
    """
    check_floating(q, "q")
    check(
        q.dim() >= 2 and q.dim() == k.dim(), f"q and k need the same rank >= 2, got {q.dim()} and {k.dim()}"
    )
    check(
        q.shape[-1] == k.shape[-1], f"q and k need the same last dim d_k, got {q.shape[-1]} and {k.shape[-1]}"
    )
    check(not (is_causal and mask is not None), "pass either mask or is_causal=True, not both")
    if is_causal:
        mask = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        return torch.softmax(scores, dim=-1)
    check(mask.dtype == torch.bool, f"mask must be boolean (True = may attend), got {mask.dtype}")
    try:
        mask = torch.broadcast_to(mask, scores.shape)
    except RuntimeError as err:
        raise ValueError(f"mask shape {list(mask.shape)} does not broadcast to {list(scores.shape)}") from err
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return weights.masked_fill(~mask, 0.0)  # fully masked rows: NaN -> 0


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    r"""Scaled dot-product attention (Vaswani et al., 2017, eq. 1; arXiv 1706.03762).

    $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}} + M\right) V$$

    where $M_{ij} = 0$ if ``mask[i, j]`` is ``True`` and $-\infty$ otherwise. Matches
    ``torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)``.

    Args:
        q: ``[..., L_q, d_k]`` queries.
        k: ``[..., L_k, d_k]`` keys.
        v: ``[..., L_k, d_v]`` values.
        mask: optional boolean mask broadcastable to ``[..., L_q, L_k]``; ``True`` = may attend.
        is_causal: query $i$ attends to keys $j \le i$ (top-left aligned, as in PyTorch).

    Returns:
        ``[..., L_q, d_v]`` outputs.
    """
    check(
        k.shape[-2] == v.shape[-2], f"k and v need the same length L_k, got {k.shape[-2]} and {v.shape[-2]}"
    )
    return attention_weights(q, k, mask=mask, is_causal=is_causal) @ v


def multi_head_attention(
    query: torch.Tensor,
    key_value: torch.Tensor,
    in_proj_weight: torch.Tensor,
    out_proj_weight: torch.Tensor,
    num_heads: int,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Multi-head attention without biases (Vaswani et al., 2017, §3.2.2).

    $$\mathrm{MHA}(X, Y) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h) W^O,\quad
    \mathrm{head}_i = \mathrm{Attention}(X W_i^Q, Y W_i^K, Y W_i^V)$$

    With ``key_value = query`` it is self-attention; with ``key_value`` = encoder states it is the
    **cross-attention** of an encoder-decoder: every decoder position reads *all* encoder states.
    Weights use the layout of ``torch.nn.MultiheadAttention`` (``x @ W.T``).

    Args:
        query: ``[batch, L_q, d]`` query-side states (e.g. the decoder).
        key_value: ``[batch, L_k, d]`` key/value-side states (e.g. the encoder output).
        in_proj_weight: ``[3d, d]``, the stacked $W^Q, W^K, W^V$.
        out_proj_weight: ``[d, d]``, $W^O$.
        num_heads: $h$; must divide $d$.
        mask: optional boolean mask broadcastable to ``[batch, h, L_q, L_k]``; ``True`` = may attend.

    Returns:
        ``[batch, L_q, d]``.
    """
    b, lq, d = query.shape
    check(d % num_heads == 0, f"num_heads={num_heads} must divide the model dim {d}")
    check(in_proj_weight.shape == (3 * d, d), f"in_proj_weight must be [{3 * d}, {d}]")
    w_q, w_k, w_v = in_proj_weight.chunk(3)

    def split(x: torch.Tensor) -> torch.Tensor:  # [b, L, d] -> [b, h, L, d/h]
        return x.reshape(b, x.shape[1], num_heads, d // num_heads).transpose(1, 2)

    heads = scaled_dot_product_attention(
        split(query @ w_q.T), split(key_value @ w_k.T), split(key_value @ w_v.T), mask=mask
    )
    return heads.transpose(1, 2).reshape(b, lq, d) @ out_proj_weight.T

r"""Attention written out: scaled dot-product, multi-head, grouped-query and a tiled (FlashAttention) forward.

Attention lets every query position read a weighted average of value vectors; the weights come from a softmax
over query-key dot products. A boolean mask decides which keys each query may read (``True`` = may attend),
the same convention as ``torch.nn.functional.scaled_dot_product_attention``. The masks that make a model
causal, bidirectional or prefix-style live in :mod:`mllm_handbook.masks`.

Shapes follow PyTorch: ``[batch, heads, seq, head_dim]``. :func:`flash_attention` computes the same output
as :func:`scaled_dot_product_attention` block by block, without ever holding the full score matrix.
"""

from __future__ import annotations

import math

import torch

from mllm_handbook._checks import check
from mllm_handbook.masks import causal_mask


def attention_weights(
    q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None, is_causal: bool = False
) -> torch.Tensor:
    r"""Attention probabilities $A = \mathrm{softmax}(QK^\top/\sqrt{d_k} + M)$ (Vaswani et al., 2017, eq. 1).

    $$A_{ij} = \frac{\exp(q_i \cdot k_j / \sqrt{d_k})\,[m_{ij}]}{\sum_{l} \exp(q_i \cdot k_l / \sqrt{d_k})\,[m_{il}]}$$

    A query whose mask row is all ``False`` gets all-zero weights, not NaN (as
    ``F.scaled_dot_product_attention`` does in PyTorch 2.13, the version this project pins).

    Args:
        q: ``[..., L_q, d_k]`` queries.
        k: ``[..., L_k, d_k]`` keys.
        mask: optional boolean mask broadcastable to ``[..., L_q, L_k]``; ``True`` = may attend.
        is_causal: use the (top-left aligned) causal mask; cannot be combined with ``mask``.

    Returns:
        ``[..., L_q, L_k]`` weights; each row sums to 1 (or 0 if fully masked).
    """
    check(not (is_causal and mask is not None), "pass either mask or is_causal=True, not both")
    check(mask is None or mask.dtype == torch.bool, "mask must be boolean (True = may attend), not additive")
    if is_causal:
        mask = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        return torch.softmax(scores, dim=-1)
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
    return attention_weights(q, k, mask=mask, is_causal=is_causal) @ v


def softmax_jacobian(p: torch.Tensor) -> torch.Tensor:
    r"""Jacobian of the softmax at its output $p = \mathrm{softmax}(s)$.

    $$\frac{\partial p_i}{\partial s_j} = p_i(\delta_{ij} - p_j),\quad J = \mathrm{diag}(p) - p p^\top$$

    When the softmax saturates ($p$ close to one-hot) every entry tends to 0: the scores stop receiving
    gradient. This is why Vaswani et al. (2017, §3.2.1) scale the scores by $1/\sqrt{d_k}$.

    Args:
        p: ``[..., n]`` probabilities (rows of attention weights).

    Returns:
        ``[..., n, n]`` Jacobians.
    """
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    r"""``[B, L, D] -> [B, H, L, D/H]``: cut the model dim into $H$ heads, then move heads before positions.

    The reshape must be followed by the transpose: ``x.view(B, H, L, D/H)`` alone is a different tensor whose
    "heads" mix features of different tokens.

    Args:
        x: ``[batch, seq, d_model]``.
        num_heads: $H$; must divide ``d_model``.

    Returns:
        ``[batch, H, seq, d_model / H]``.
    """
    b, length, d = x.shape
    check(d % num_heads == 0, f"num_heads={num_heads} must divide the model dim {d}")
    return x.reshape(b, length, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    r"""``[B, H, L, d] -> [B, L, H d]``, the inverse of :func:`split_heads` (the "Concat" of the paper).

    Args:
        x: ``[batch, H, seq, head_dim]``.

    Returns:
        ``[batch, seq, H * head_dim]``.
    """
    b, h, length, d = x.shape
    return x.transpose(1, 2).reshape(b, length, h * d)


def multi_head_attention(
    query: torch.Tensor,
    key_value: torch.Tensor,
    in_proj_weight: torch.Tensor,
    out_proj_weight: torch.Tensor,
    num_heads: int,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    r"""Multi-head attention without biases (Vaswani et al., 2017, §3.2.2; arXiv 1706.03762).

    $$\mathrm{MHA}(X, Y) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h) W^O,\quad
    \mathrm{head}_i = \mathrm{Attention}(X W_i^Q, Y W_i^K, Y W_i^V)$$

    With ``key_value = query`` it is self-attention; with ``key_value`` = encoder states it is the
    **cross-attention** of an encoder-decoder: every decoder position reads *all* encoder states.
    Weights use the layout of ``torch.nn.MultiheadAttention`` (``x @ W.T``). The four $d \times d$
    projections hold $4d^2$ parameters whatever the number of heads.

    Args:
        query: ``[batch, L_q, d]`` query-side states (e.g. the decoder).
        key_value: ``[batch, L_k, d]`` key/value-side states (e.g. the encoder output).
        in_proj_weight: ``[3d, d]``, the stacked $W^Q, W^K, W^V$.
        out_proj_weight: ``[d, d]``, $W^O$.
        num_heads: $h$; must divide $d$.
        mask: optional boolean mask broadcastable to ``[batch, h, L_q, L_k]``; ``True`` = may attend.
        is_causal: apply the causal mask instead of ``mask``.

    Returns:
        ``[batch, L_q, d]``.
    """
    d = query.shape[-1]
    check(in_proj_weight.shape == (3 * d, d), f"in_proj_weight must be [{3 * d}, {d}]")
    w_q, w_k, w_v = in_proj_weight.chunk(3)
    q = split_heads(query @ w_q.T, num_heads)  # [B, h, L_q, d/h]
    k = split_heads(key_value @ w_k.T, num_heads)
    v = split_heads(key_value @ w_v.T, num_heads)
    heads = scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal)
    return merge_heads(heads) @ out_proj_weight.T


def grouped_query_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    r"""Grouped-query attention (Ainslie et al., 2023; arXiv 2305.13245): query heads share K/V heads.

    The $H_q$ query heads are split into $H_{kv}$ consecutive groups of $g = H_q / H_{kv}$; query head $h$
    reads K/V head $\lfloor h / g \rfloor$:

    $$\mathrm{head}_h = \mathrm{Attention}(Q_h, K_{\lfloor h/g \rfloor}, V_{\lfloor h/g \rfloor})$$

    $H_{kv} = H_q$ is multi-head attention, $H_{kv} = 1$ multi-query attention (Shazeer, 2019). Only the
    $H_{kv}$ K/V heads are cached. Repeating them (as here, and as Hugging Face's ``repeat_kv``) is the
    whiteboard version; fused kernels index the shared head instead of copying it. Matches
    ``F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=True)``.

    Args:
        q: ``[B, H_q, L, d]`` queries.
        k: ``[B, H_kv, S, d]`` keys.
        v: ``[B, H_kv, S, d_v]`` values.
        mask: optional boolean mask broadcastable to ``[B, H_q, L, S]``; ``True`` = may attend.
        is_causal: apply the (top-left aligned) causal mask.

    Returns:
        ``[B, H_q, L, d_v]``.
    """
    h_q, h_kv = q.shape[-3], k.shape[-3]
    check(h_q % h_kv == 0, f"the query heads H_q={h_q} must be divisible by the K/V heads H_kv={h_kv}")
    k = k.repeat_interleave(h_q // h_kv, dim=-3)  # [B, H_q, S, d]: head h -> K/V head h // g
    v = v.repeat_interleave(h_q // h_kv, dim=-3)
    return scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal)


def flash_attention_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int = 64, is_causal: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Tiled attention forward with an online softmax; also returns the log-sum-exp of each row.

    FlashAttention (Dao et al., 2022, Alg. 1; arXiv 2205.14135) in the loop order of FlashAttention-2
    (Dao, 2024; arXiv 2307.08691): for each block of queries, visit the key/value blocks one at a time,
    keeping a running max $m$, a running normaliser $\ell$ and an unnormalised output $\tilde O$ (online
    softmax, Milakov & Gimelshein, 2018; arXiv 1805.02867). For a new score tile $S^{(j)}$:

    $$m' = \max(m, \mathrm{rowmax}(S^{(j)})),\quad \ell' = e^{m - m'}\ell + \mathrm{rowsum}(e^{S^{(j)} - m'}),
    \quad \tilde O' = e^{m - m'}\tilde O + e^{S^{(j)} - m'} V^{(j)}$$

    and at the end $O = \tilde O / \ell$, $\mathrm{LSE} = m + \log \ell$. Only tiles of at most
    ``block_size`` × ``block_size`` scores exist at any time. With ``is_causal`` the key blocks to the right
    of the diagonal are skipped and only tiles that cross it are masked.

    Args:
        q: ``[..., L, d]`` queries.
        k: ``[..., S, d]`` keys.
        v: ``[..., S, d_v]`` values.
        block_size: rows of Q and of K/V per tile, ``>= 1``.
        is_causal: query $i$ attends to keys $j \le i$ (top-left aligned, as in PyTorch).

    Returns:
        ``(out, lse)``: ``[..., L, d_v]`` and ``[..., L]`` with $\mathrm{LSE}_i = \log \sum_j e^{s_{ij}}$.
    """
    check(block_size >= 1, f"block_size must be >= 1, got {block_size}")
    q = q / math.sqrt(q.shape[-1])
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    lse = q.new_empty(q.shape[:-1])
    for i in range(0, q.shape[-2], block_size):
        q_i = q[..., i : i + block_size, :]
        rows = torch.arange(i, i + q_i.shape[-2], device=q.device)
        m = q.new_full(q_i.shape[:-1], float("-inf"))  # running row max
        l = q.new_zeros(q_i.shape[:-1])  # running normaliser
        acc = q.new_zeros(*q_i.shape[:-1], v.shape[-1])  # unnormalised output
        stop = min(k.shape[-2], i + q_i.shape[-2]) if is_causal else k.shape[-2]  # causal: skip the rest
        for j in range(0, stop, block_size):
            s = q_i @ k[..., j : j + block_size, :].transpose(-2, -1)
            cols = torch.arange(j, j + s.shape[-1], device=q.device)
            if is_causal and cols[-1] > rows[0]:  # the tile crosses the diagonal
                s = s.masked_fill(cols > rows[:, None], float("-inf"))
            m_new = torch.maximum(m, s.amax(-1))
            p = torch.exp(s - m_new.unsqueeze(-1))
            rescale = torch.exp(m - m_new)
            l = rescale * l + p.sum(-1)
            acc = rescale.unsqueeze(-1) * acc + p @ v[..., j : j + block_size, :]
            m = m_new
        out[..., i : i + block_size, :] = acc / l.unsqueeze(-1)
        lse[..., i : i + block_size] = m + l.log()
    return out, lse


def flash_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int = 64, is_causal: bool = False
) -> torch.Tensor:
    r"""Exact attention computed tile by tile (FlashAttention; Dao et al., 2022; arXiv 2205.14135).

    $$O = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d}}\right) V$$

    the same numbers as ``F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)``, with $O(N)$
    extra memory instead of the $N \times N$ score matrix. See :func:`flash_attention_forward`, which also
    returns the log-sum-exp kept for the backward pass.

    Args:
        q: ``[..., L, d]`` queries.
        k: ``[..., S, d]`` keys.
        v: ``[..., S, d_v]`` values.
        block_size: rows of Q and of K/V per tile, ``>= 1``.
        is_causal: query $i$ attends to keys $j \le i$ (top-left aligned).

    Returns:
        ``[..., L, d_v]``.
    """
    return flash_attention_forward(q, k, v, block_size, is_causal)[0]


def probs_from_lse(
    q: torch.Tensor, k: torch.Tensor, lse: torch.Tensor, is_causal: bool = False
) -> torch.Tensor:
    r"""Recompute the attention probabilities from the stored log-sum-exp (the backward-pass trick).

    $$P_{ij} = \exp\left(\frac{q_i \cdot k_j}{\sqrt{d}} - \mathrm{LSE}_i\right)$$

    FlashAttention's backward pass (Dao et al., 2022, §3.1) stores only $O$ and the $N$ numbers
    $\mathrm{LSE}_i$ and rebuilds each tile of $P$ on chip from $Q$ and $K$; no max or sum is needed again.
    Written here for the whole matrix for clarity.

    Args:
        q: ``[..., L, d]`` queries.
        k: ``[..., S, d]`` keys.
        lse: ``[..., L]`` from :func:`flash_attention_forward`.
        is_causal: zero the probabilities of keys $j > i$.

    Returns:
        ``[..., L, S]`` probabilities, equal to ``softmax`` of the scaled scores.
    """
    p = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) - lse.unsqueeze(-1))
    if is_causal:
        p = p.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], device=q.device), 0.0)
    return p


def attention_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor,
    is_causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Gradients of attention from $Q, K, V, O$ and the log-sum-exp alone (Dao et al., 2022, App. B.2).

    With $P$ recomputed by :func:`probs_from_lse` and $D_i = \mathrm{rowsum}(dO \circ O)_i$
    (which equals $\sum_j P_{ij}\, dP_{ij}$):

    $$dV = P^\top dO,\quad dP = dO\, V^\top,\quad dS = P \circ (dP - D),\quad
    dQ = \frac{dS\, K}{\sqrt{d}},\quad dK = \frac{dS^\top Q}{\sqrt{d}}$$

    Args:
        q: ``[..., L, d]`` queries.
        k: ``[..., S, d]`` keys.
        v: ``[..., S, d_v]`` values.
        out: ``[..., L, d_v]`` the forward output $O$.
        lse: ``[..., L]`` the forward log-sum-exp.
        grad_out: ``[..., L, d_v]`` the upstream gradient $dO$.
        is_causal: whether the forward pass was causal.

    Returns:
        ``(dq, dk, dv)`` shaped like ``q``, ``k``, ``v``.
    """
    p = probs_from_lse(q, k, lse, is_causal)
    dv = p.transpose(-2, -1) @ grad_out
    dp = grad_out @ v.transpose(-2, -1)
    ds = p * (dp - (grad_out * out).sum(-1, keepdim=True))
    scale = 1 / math.sqrt(q.shape[-1])
    return ds @ k * scale, ds.transpose(-2, -1) @ q * scale, dv


def attention_matmul_flops(
    q_len: int, k_len: int, head_dim: int, block_size: int | None = None, is_causal: bool = False
) -> int:
    r"""Matmul FLOPs of one head of attention, as :func:`flash_attention_forward` tiles it.

    Each computed score costs $2d$ FLOPs for $QK^\top$ and $2d$ for $PV$ (with $d_v = d$), so
    untiled attention costs $4 L S d$ FLOPs, causal or not (the mask is applied after the product), and so
    does the tiled loop for any block size. With ``is_causal`` the tiled loop visits only the key tiles up to
    the diagonal, so the FLOPs fall towards half; the block size decides how much work the masked part of
    the diagonal tiles wastes.

    Args:
        q_len: $L$ queries.
        k_len: $S$ keys.
        head_dim: $d$ (and $d_v$).
        block_size: tile size $B$; ``None`` means one tile, i.e. standard attention.
        is_causal: skip the key tiles right of the diagonal (top-left aligned).

    Returns:
        FLOPs of the two matrix products.
    """
    block = max(q_len, k_len) if block_size is None else block_size
    check(block >= 1, f"block_size must be >= 1, got {block}")
    total = 0
    for i in range(0, q_len, block):
        rows = min(block, q_len - i)
        stop = min(k_len, i + rows) if is_causal else k_len
        cols = min(k_len, math.ceil(stop / block) * block)  # whole key tiles up to the diagonal
        total += 4 * rows * cols * head_dim
    return total


def standard_attention_hbm_elements(seq_len: int, head_dim: int) -> int:
    r"""Elements read from and written to HBM by unfused attention, per head (Dao et al., 2022, Alg. 0).

    Read $Q, K$, write $S$; read $S$, write $P = \mathrm{softmax}(S)$; read $P, V$, write $O$:

    $$\text{elements} = 4Nd + 4N^2 = \Theta(Nd + N^2)$$

    Args:
        seq_len: $N$ (queries = keys).
        head_dim: $d$.

    Returns:
        Elements moved (multiply by bytes per element for bytes).
    """
    n, d = seq_len, head_dim
    return 4 * n * d + 4 * n * n


def flash_attention_hbm_elements(seq_len: int, head_dim: int, block_size: int) -> int:
    r"""Elements moved between HBM and on-chip SRAM by :func:`flash_attention_forward`, per head.

    Each of the $T = \lceil N / B \rceil$ query blocks is read once and its output and log-sum-exp written
    once; all of $K$ and $V$ are read once per query block; nothing of size $N \times N$ touches HBM:

    $$\text{elements} = 2Nd + N + T \cdot 2Nd$$

    With the largest block that fits in an SRAM of $M$ elements, $B \propto M/d$, this is
    $\Theta(N^2 d^2 / M)$ (Dao et al., 2022, Thm. 2). The model assumes one head, tiles that fit in SRAM,
    and no reuse of $K, V$ across query blocks through a cache.

    Args:
        seq_len: $N$.
        head_dim: $d$.
        block_size: $B$, query rows per tile.

    Returns:
        Elements moved.
    """
    check(block_size >= 1, f"block_size must be >= 1, got {block_size}")
    n, d = seq_len, head_dim
    return 2 * n * d + n + math.ceil(n / block_size) * 2 * n * d

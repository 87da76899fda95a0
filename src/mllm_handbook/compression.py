r"""Inference and compression, written out: distillation, per-channel int8 weights, and a KV-cache step.

* Knowledge distillation (Hinton et al., 2015; arXiv 1503.02531): a student matches the teacher's
  temperature-softened distribution.
* Symmetric per-channel int8 quantisation: one scale per output channel, as used for LLM weights.
* KV cache: during decoding each new token's keys and values are appended to a cache, so a step costs one
  token's projections plus attention over the cache instead of a full recomputation.
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check, check_floating
from mllm_handbook.attention import scaled_dot_product_attention


def quantize_per_channel_int8(weight: torch.Tensor, axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Symmetric int8 quantisation with one scale per channel along ``axis``.

    $$s_c = \frac{\max_j |W_{c,j}|}{127},\qquad q_{c,j} = \mathrm{clamp}\left(\mathrm{round}(W_{c,j}/s_c), -127, 127\right)$$

    Rounding is half-to-even, as in ``torch.quantize_per_channel``; an all-zero channel gets scale 1.

    Args:
        weight: floating-point tensor, e.g. ``[d_out, d_in]``.
        axis: the channel axis (0 = output channels of a linear layer).

    Returns:
        ``(q, scale)``: ``q`` int8 of ``weight``'s shape, ``scale`` float ``[weight.shape[axis]]``.
    """
    check_floating(weight, "weight")
    check(-weight.dim() <= axis < weight.dim(), f"axis {axis} out of range for {weight.dim()}-d weight")
    axis = axis % weight.dim()
    other_dims = [d for d in range(weight.dim()) if d != axis]
    amax = weight.abs().amax(dim=other_dims) if other_dims else weight.abs()
    scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
    shape = [-1 if d == axis else 1 for d in range(weight.dim())]
    q = torch.round(weight / scale.reshape(shape)).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize_per_channel(q: torch.Tensor, scale: torch.Tensor, axis: int = 0) -> torch.Tensor:
    r"""Undo :func:`quantize_per_channel_int8`: $\hat W_{c,j} = s_c\, q_{c,j}$.

    Args:
        q: int8 tensor.
        scale: ``[q.shape[axis]]`` per-channel scales.
        axis: the channel axis used when quantising.

    Returns:
        Float tensor of ``q``'s shape; the error per entry is at most $s_c / 2$.
    """
    check(q.dtype == torch.int8, f"q must be int8, got {q.dtype}")
    shape = [-1 if d == axis % q.dim() else 1 for d in range(q.dim())]
    return q.to(scale.dtype) * scale.reshape(shape)


def causal_self_attention(
    x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> torch.Tensor:
    r"""Single-head causal self-attention over a whole sequence (the no-cache baseline).

    $$\mathrm{out} = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d}} + M\right)V,\quad Q = xW_q,\ K = xW_k,\ V = xW_v$$

    Args:
        x: ``[batch, seq, d_model]``.
        w_q: ``[d_model, d]`` query projection.
        w_k: ``[d_model, d]`` key projection.
        w_v: ``[d_model, d]`` value projection.

    Returns:
        ``[batch, seq, d]``.
    """
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)


def kv_cache_step(
    x_t: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    cache: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""One decoding step with a KV cache: project only the new token, append its key and value, attend.

    $$K_{\le t} = [K_{<t};\ x_t W_k],\quad V_{\le t} = [V_{<t};\ x_t W_v],\quad
    \mathrm{out}_t = \mathrm{softmax}\left(\frac{x_t W_q K_{\le t}^\top}{\sqrt{d}}\right) V_{\le t}$$

    No mask is needed: the cache only holds past tokens.

    Args:
        x_t: ``[batch, 1, d_model]`` the newest token.
        w_q: ``[d_model, d]`` query projection.
        w_k: ``[d_model, d]`` key projection.
        w_v: ``[d_model, d]`` value projection.
        cache: ``(K, V)`` each ``[batch, t - 1, d]``, or ``None`` at the first step.

    Returns:
        ``(out_t, (K, V))``: ``out_t`` ``[batch, 1, d]`` and the cache grown by one position.
    """
    check(x_t.shape[1] == 1, f"a decoding step feeds one token: x_t is [batch, 1, d], got {x_t.shape}")
    k_new, v_new = x_t @ w_k, x_t @ w_v
    if cache is not None:
        k_new, v_new = torch.cat([cache[0], k_new], dim=1), torch.cat([cache[1], v_new], dim=1)
    return scaled_dot_product_attention(x_t @ w_q, k_new, v_new), (k_new, v_new)


def kv_cache_bytes(
    num_layers: int,
    num_kv_heads: int,
    head_dim: int,
    seq_len: int,
    batch: int = 1,
    bytes_per_value: float = 2,
) -> float:
    r"""Memory of the KV cache: keys and values for every layer, KV head, position and sequence.

    $$\mathrm{bytes} = 2 \cdot L \cdot H_{kv} \cdot d_h \cdot T \cdot B \cdot \mathrm{bytes\ per\ value}$$

    Args:
        num_layers: $L$.
        num_kv_heads: $H_{kv}$ (fewer than the query heads with GQA/MQA).
        head_dim: $d_h$.
        seq_len: $T$ cached positions.
        batch: $B$ sequences.
        bytes_per_value: 2 for fp16/bf16, 1 for int8.

    Returns:
        Bytes.
    """
    sizes = (num_layers, num_kv_heads, head_dim, seq_len, batch, bytes_per_value)
    check(all(s > 0 for s in sizes), f"all sizes must be > 0, got {sizes}")
    return 2.0 * num_layers * num_kv_heads * head_dim * seq_len * batch * bytes_per_value

r"""Positional information for attention: sinusoidal encodings, RoPE, ALiBi and T5 relative buckets.

Self-attention is permutation-equivariant: without positional information a Transformer sees a set of
tokens, not a sequence. The four schemes here inject position in different places:

* :func:`sinusoidal_encoding` is **added to the input embeddings** (absolute position; Vaswani et al., 2017).
* :func:`apply_rope` **rotates queries and keys**, so the score $q_m^\top k_n$ depends on $m-n$ only
  (Su et al., RoFormer, 2021).
* :func:`alibi_bias` is **added to the attention scores**: a per-head penalty linear in the distance
  (Press et al., 2021).
* :func:`t5_relative_position_bucket` maps a relative distance to one of a few **learned scalar biases**
  (Raffel et al., T5, 2019).

Extending a RoPE model's context changes its frequencies (:func:`rope_frequencies`): position interpolation
divides positions by the scale, :func:`ntk_scaled_base` raises the base, :func:`yarn_frequencies` interpolates
only the low frequencies and :func:`yarn_attention_factor` sharpens the softmax. Multimodal RoPE
(:func:`apply_mrope`, :func:`apply_mrope_interleaved`) gives each frequency pair one of three position axes,
time, height and width (:func:`mrope_position_ids`).
"""

from __future__ import annotations

import math

import torch

from mllm_handbook._checks import check


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    r"""Fixed sine/cosine position encodings (Vaswani et al., 2017, §3.5).

    $$PE_{(pos, 2i)} = \sin\left(\frac{pos}{base^{2i/d}}\right),\quad
    PE_{(pos, 2i+1)} = \cos\left(\frac{pos}{base^{2i/d}}\right)$$

    Each pair of channels $(2i, 2i+1)$ is a point on a circle turning at frequency $base^{-2i/d}$, so
    $PE_{pos+k}$ is a fixed rotation of $PE_{pos}$ and $PE_m \cdot PE_n$ depends only on $m-n$.

    Args:
        num_positions: number of positions $0, \dots, num\_positions - 1$.
        dim: model dimension $d$ (even).
        base: the wavelength constant, 10000 in the paper.

    Returns:
        ``[num_positions, dim]``, float32; sin on even channels, cos on odd channels.
    """
    check(num_positions >= 1, f"num_positions must be >= 1, got {num_positions}")
    check(dim >= 2 and dim % 2 == 0, f"dim must be a positive even number, got {dim}")
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angle = position * inv_freq  # [num_positions, dim / 2]
    encoding = torch.empty(num_positions, dim, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle)
    return encoding.float()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the two halves of the last dim."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def rope_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    r"""RoPE's angular frequency per channel pair (Su et al., RoFormer, 2021; arXiv 2104.09864).

    $$\theta_i = base^{-2i/d},\quad \lambda_i = \frac{2\pi}{\theta_i},\quad i = 0, \dots, d/2 - 1$$

    Pair 0 turns by 1 radian per position (wavelength $2\pi$ tokens); the last pair is the slowest, with a
    wavelength of almost $2\pi \cdot base$ tokens.

    Args:
        dim: rotary dimension $d$ (even), the head dimension in LLaMA-style models.
        base: the frequency base $b$ (10000 in RoFormer and LLaMA, 500000 in LLaMA 3).

    Returns:
        ``[dim / 2]`` float64, decreasing from 1.
    """
    check(dim >= 2 and dim % 2 == 0, f"dim must be a positive even number, got {dim}")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def apply_rope(
    x: torch.Tensor,
    positions: torch.Tensor,
    base: float = 10000.0,
    inv_freq: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Rotary position embedding, rotate-half layout as in Hugging Face (Su et al., RoFormer, 2021).

    Channel $i$ is paired with channel $i + d/2$ and the pair is rotated by the angle $m\,\theta_i$, with
    $\theta_i = base^{-2i/d}$ and $m$ the token's position:

    $$\mathrm{RoPE}(x, m) = x \odot \cos(m\theta) + \mathrm{rotate\_half}(x) \odot \sin(m\theta)$$

    Because rotations compose, $\mathrm{RoPE}(q, m)^\top \mathrm{RoPE}(k, n) = q^\top R_{n-m}\, k$ depends on
    the positions only through $n-m$. The paper pairs adjacent channels $(2i, 2i+1)$ instead; the two
    layouts differ by a fixed permutation of channels, which the projection weights absorb.

    Args:
        x: ``[..., seq, dim]`` queries or keys (per head), ``dim`` even.
        positions: ``[seq]`` (or broadcastable to ``[..., seq]``) integer or float positions.
        base: the frequency base, 10000 in RoFormer and LLaMA.
        inv_freq: optional ``[dim / 2]`` frequencies to use instead of :func:`rope_frequencies`
            (context-extension schemes such as :func:`yarn_frequencies` change them per pair).

    Returns:
        ``[..., seq, dim]``, same dtype as ``x``.
    """
    dim = x.shape[-1]
    check(dim % 2 == 0, f"apply_rope rotates channel pairs: the last dim must be even, got {dim}")
    check(positions.shape[-1] == x.shape[-2], f"positions must have {x.shape[-2]} entries, one per token")
    if inv_freq is None:
        inv_freq = rope_frequencies(dim, base)
    angle = positions.to(torch.float64)[..., None] * inv_freq.to(torch.float64)  # [..., seq, dim / 2]
    angle = torch.cat([angle, angle], dim=-1)
    return (x * angle.cos().to(x.dtype) + _rotate_half(x) * angle.sin().to(x.dtype)).to(x.dtype)


def ntk_scaled_base(base: float, scale: float, dim: int) -> float:
    r"""The NTK-aware RoPE base for a context ``scale`` times longer (bloc97, 2023; Peng et al., YaRN, ICLR 2024).

    $$b' = b \cdot s^{\frac{d}{d-2}}$$

    With $\theta_i = b'^{-2i/d}$, pair 0 keeps $\theta_0 = 1$ and the last pair ($i = d/2 - 1$) gets exactly
    $\theta/s$, the position-interpolation frequency; pairs in between are scaled by $s^{-2i/(d-2)}$. First
    proposed in a community post (bloc97, 2023); YaRN (arXiv 2309.00071) describes it and is the citable
    source.

    Args:
        base: the original base $b$.
        scale: $s = L'/L$, the ratio of the target to the trained context length.
        dim: rotary dimension $d$.

    Returns:
        The new base $b'$.
    """
    check(dim >= 4 and dim % 2 == 0, f"dim must be even and >= 4 (d - 2 > 0), got {dim}")
    check(scale > 0, f"scale must be > 0, got {scale}")
    return base * scale ** (dim / (dim - 2))


def yarn_frequencies(
    dim: int,
    base: float,
    scale: float,
    original_length: int,
    alpha: float = 1.0,
    beta: float = 32.0,
) -> torch.Tensor:
    r"""YaRN's "NTK-by-parts" frequencies (Peng et al., ICLR 2024; arXiv 2309.00071).

    With $r_i = L/\lambda_i$ the number of full turns pair $i$ makes in the trained length $L$ and the ramp
    $\gamma(r) = \mathrm{clamp}\left(\frac{r - \alpha}{\beta - \alpha}, 0, 1\right)$:

    $$\theta'_i = \left(1 - \gamma(r_i)\right)\frac{\theta_i}{s} + \gamma(r_i)\,\theta_i$$

    Pairs that never complete a turn in training ($r < \alpha$) are interpolated like position
    interpolation; pairs that turn more than $\beta$ times keep their frequency. The paper uses
    $\alpha = 1, \beta = 32$ for LLaMA. (The reference code ramps linearly over the pair index between the
    same boundaries, rounded to whole pairs; Meta's Llama 3.1 scaling is this formula with
    $\alpha = 1, \beta = 4$ and no temperature.)

    Args:
        dim: rotary dimension $d$.
        base: the RoPE base $b$.
        scale: $s = L'/L \ge 1$.
        original_length: the trained context length $L$.
        alpha: below $\alpha$ turns, interpolate fully.
        beta: above $\beta$ turns, keep the frequency.

    Returns:
        ``[dim / 2]`` float64 frequencies $\theta'$.
    """
    check(scale >= 1, f"scale must be >= 1 (a longer context), got {scale}")
    check(0 <= alpha < beta, f"need 0 <= alpha < beta, got alpha={alpha}, beta={beta}")
    theta = rope_frequencies(dim, base)
    turns = original_length * theta / (2 * math.pi)  # r_i = L / lambda_i
    ramp = ((turns - alpha) / (beta - alpha)).clamp(0.0, 1.0)
    return (1 - ramp) * theta / scale + ramp * theta


def yarn_attention_factor(scale: float) -> float:
    r"""YaRN's attention scaling $\sqrt{1/t}$ (Peng et al., ICLR 2024; arXiv 2309.00071).

    YaRN divides the logits by a temperature $t$, $\mathrm{softmax}\left(q^\top k / (t\sqrt{d})\right)$, with

    $$\sqrt{1/t} = 0.1 \ln s + 1$$

    (the paper's perplexity fit on LLaMA, recommended for LLaMA and Llama 2). Implementations multiply both $\cos$ and $\sin$ (so both $q$ and $k$) by $\sqrt{1/t}$, which scales the
    logits by $1/t = (0.1 \ln s + 1)^2$.

    Args:
        scale: $s \ge 1$.

    Returns:
        $\sqrt{1/t}$ (1 at $s = 1$).
    """
    check(scale >= 1, f"scale must be >= 1 (a longer context), got {scale}")
    return 0.1 * math.log(scale) + 1.0


def mrope_axis_ids(sections: list[int], interleaved: bool = False) -> torch.Tensor:
    r"""Which position axis (0 = time, 1 = height, 2 = width) drives each RoPE frequency pair.

    Contiguous (Qwen2-VL, arXiv 2409.12191): the first ``sections[0]`` pairs (the highest frequencies) follow
    time, the next ``sections[1]`` height, the last ``sections[2]`` (the lowest) width. Interleaved (Qwen3-VL,
    arXiv 2511.21631, as implemented in Transformers): pairs cycle T, H, W, so every axis spans high and low
    frequencies; the remaining pairs at the end follow time.

    Args:
        sections: frequency pairs per axis, e.g. ``[16, 24, 24]`` (Qwen2-VL) or ``[24, 20, 20]`` (Qwen3-VL).
        interleaved: the Qwen3-VL layout if True.

    Returns:
        ``[sum(sections)]`` int64 axis ids.
    """
    check(len(sections) == 3 and min(sections) >= 0, f"sections must be 3 counts (t, h, w), got {sections}")
    pairs = sum(sections)
    if not interleaved:
        return torch.repeat_interleave(torch.arange(3), torch.tensor(sections))
    check(
        3 * sections[1] - 2 < pairs and 3 * sections[2] - 1 < pairs,
        f"too many h or w pairs to interleave: {sections}",
    )
    axis = torch.zeros(pairs, dtype=torch.long)
    axis[1 : 3 * sections[1] : 3] = 1  # pairs 1, 4, 7, ... follow height
    axis[2 : 3 * sections[2] : 3] = 2  # pairs 2, 5, 8, ... follow width
    return axis


def _rope_by_axis(x: torch.Tensor, positions: torch.Tensor, axis: torch.Tensor, base: float) -> torch.Tensor:
    """Rotate pair ``i`` (channels ``i`` and ``i + d/2``) by the position on axis ``axis[i]``."""
    check(positions.shape[0] == 3, f"positions must be [3, seq] (t, h, w), got {list(positions.shape)}")
    check(
        2 * axis.numel() == x.shape[-1],
        f"sections must sum to dim / 2 = {x.shape[-1] // 2}, got {axis.numel()}",
    )
    owner = torch.cat([axis, axis])  # rotate-half: channel i and i + d/2 share pair i
    out = torch.zeros_like(x)
    for a in range(3):
        out = torch.where(owner == a, apply_rope(x, positions[a], base), out)
    return out


def apply_mrope(
    x: torch.Tensor, positions: torch.Tensor, sections: list[int], base: float = 10000.0
) -> torch.Tensor:
    r"""Multimodal RoPE of Qwen2-VL (Wang et al., 2024; arXiv 2409.12191), contiguous sections.

    Each token has three position ids $(t, h, w)$. Pair $i$ is rotated by $p_{a(i)}\,\theta_i$, where the
    axis $a(i)$ comes from :func:`mrope_axis_ids`: pairs $[0, s_t)$ use $t$, $[s_t, s_t + s_h)$ use $h$, the
    rest use $w$. Qwen2-VL uses ``sections = [16, 24, 24]`` with head dim 128. For text, $t = h = w$, and this
    is exactly 1-D :func:`apply_rope`.

    Args:
        x: ``[..., seq, dim]`` queries or keys.
        positions: ``[3, seq]`` position ids (t, h, w), e.g. from :func:`mrope_position_ids`.
        sections: frequency pairs per axis, summing to ``dim / 2``.
        base: the RoPE base.

    Returns:
        ``[..., seq, dim]``.
    """
    return _rope_by_axis(x, positions, mrope_axis_ids(sections), base)


def apply_mrope_interleaved(
    x: torch.Tensor, positions: torch.Tensor, sections: list[int], base: float = 10000.0
) -> torch.Tensor:
    r"""Interleaved multimodal RoPE of Qwen3-VL (technical report, 2025; arXiv 2511.21631).

    Same rotation as :func:`apply_mrope`, but the axes take turns over the pairs (T, H, W, T, H, W, ...;
    :func:`mrope_axis_ids` with ``interleaved=True``), so time, height and width each get high and low
    frequencies. Qwen3-VL uses ``sections = [24, 20, 20]`` (the Transformers implementation).

    Args:
        x: ``[..., seq, dim]`` queries or keys.
        positions: ``[3, seq]`` position ids (t, h, w).
        sections: frequency pairs per axis, summing to ``dim / 2``.
        base: the RoPE base.

    Returns:
        ``[..., seq, dim]``.
    """
    return _rope_by_axis(x, positions, mrope_axis_ids(sections, interleaved=True), base)


def mrope_position_ids(segments: list[int | tuple[int, int, int]]) -> torch.Tensor:
    r"""Qwen2-VL position ids for a sequence of text runs and visual grids (arXiv 2409.12191).

    A text run of $n$ tokens gets $t = h = w = p, p + 1, \dots$. A visual block of $T \times H \times W$
    tokens (after the 2x2 merge; an image has $T = 1$) gets $(p + k, p + i, p + j)$ for temporal group $k$
    (two frames in Qwen2-VL), row $i$ and column $j$, in row-major order. Each segment starts at $p$, one
    more than the largest id so far, so text after a visual block continues from $p + \max(T, H, W)$, not
    from $p + THW$.

    Args:
        segments: an ``int`` is a run of text tokens; a ``(T, H, W)`` tuple is a visual grid.

    Returns:
        ``[3, total_tokens]`` int64 position ids (rows t, h, w).
    """
    blocks, start = [], 0
    for segment in segments:
        if isinstance(segment, int):
            block = torch.arange(segment).expand(3, -1) + start
        else:
            check(len(segment) == 3 and min(segment) >= 1, f"a visual grid is (T, H, W) >= 1, got {segment}")
            grid = torch.meshgrid(*(torch.arange(n) for n in segment), indexing="ij")
            block = torch.stack(grid).reshape(3, -1) + start
        blocks.append(block)
        if block.numel():
            start = int(block.max()) + 1
    return torch.cat(blocks, dim=1)


def alibi_slopes(num_heads: int) -> torch.Tensor:
    r"""Per-head ALiBi slopes $m_h$ (Press et al., 2021, §3 and the official code).

    For $n$ heads with $n$ a power of two, the slopes are the geometric sequence

    $$m_h = 2^{-8h/n},\quad h = 1, \dots, n$$

    (for 8 heads: $1/2, 1/4, \dots, 1/256$). Otherwise, with $p$ the largest power of two below $n$, take the
    $p$ slopes for $p$ heads, then every other slope of the $2p$-head sequence (the 1st, 3rd, 5th, ...),
    $2^{-4(2j-1)/p}$ for $j = 1, \dots, n-p$. BLOOM's ``build_alibi_tensor`` uses the same rule.

    Args:
        num_heads: number of attention heads, >= 1.

    Returns:
        ``[num_heads]`` float32 slopes, all in $(0, 1)$.
    """
    check(num_heads >= 1, f"num_heads must be >= 1, got {num_heads}")
    p = 2 ** math.floor(math.log2(num_heads))
    main = 2.0 ** (-8.0 * torch.arange(1, p + 1, dtype=torch.float64) / p)
    odd = 2 * torch.arange(num_heads - p, dtype=torch.float64) + 1  # 1, 3, 5, ...
    extra = 2.0 ** (-4.0 * odd / p)
    return torch.cat([main, extra]).float()


def alibi_bias(num_heads: int, seq_len: int) -> torch.Tensor:
    r"""Causal ALiBi bias to add to attention scores (Press et al., 2021).

    $$\mathrm{softmax}\left(q_i K^\top / \sqrt{d} + b_h(i, \cdot)\right),\quad
    b_h(i, j) = -m_h\,(i - j)\ \text{for}\ j \le i$$

    with slopes $m_h$ from :func:`alibi_slopes`. Entries above the diagonal ($j > i$, future keys) are
    $-\infty$, so the tensor is also the causal mask. No position is added to the embeddings.

    Args:
        num_heads: number of attention heads.
        seq_len: sequence length.

    Returns:
        ``[num_heads, seq_len, seq_len]`` float32 bias; row $i$, column $j$ is query $i$, key $j$.
    """
    check(seq_len >= 1, f"seq_len must be >= 1, got {seq_len}")
    slopes = alibi_slopes(num_heads)
    position = torch.arange(seq_len)
    distance = (position[:, None] - position[None, :]).float()  # i - j
    bias = -slopes[:, None, None] * distance
    return bias.masked_fill(distance < 0, float("-inf"))


def t5_relative_position_bucket(
    relative_position: torch.Tensor,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> torch.Tensor:
    r"""T5's relative-position buckets (Raffel et al., 2019, §2.1; ``_relative_position_bucket``).

    ``relative_position`` is ``key_position - query_position``. Bidirectional attention gives half the
    buckets to each sign (positive offsets are shifted by $B/2$). Within a side of $B'$ buckets, a distance
    $\delta$ gets its own bucket while $\delta < B'/2$; larger distances share log-spaced buckets

    $$\mathrm{bucket}(\delta) = \min\left(B' - 1,\ \frac{B'}{2} + \left\lfloor
    \frac{\log(2\delta / B')}{\log(2\,max\_distance / B')}\cdot\frac{B'}{2} \right\rfloor\right)$$

    so every distance $\ge max\_distance$ lands in the last bucket. Each (bucket, head) owns one learned scalar
    added to the attention logits. Computed in float32, in T5's order of operations.

    Args:
        relative_position: integer tensor of any shape, ``key_pos - query_pos``.
        bidirectional: encoder-style (both signs) if True; causal decoder-style (only $\le 0$) if False.
        num_buckets: total number of buckets $B$ (per direction $B' = B/2$ when bidirectional).
        max_distance: distances at or beyond it share the last bucket.

    Returns:
        ``int64`` bucket ids with the shape of ``relative_position``, in ``[0, num_buckets)``.
    """
    check(
        not relative_position.is_floating_point() and relative_position.dtype != torch.bool,
        f"relative_position must be an integer tensor, got {relative_position.dtype}",
    )
    per_side = num_buckets // 2 if bidirectional else num_buckets
    max_exact = per_side // 2
    check(max_exact >= 1, f"num_buckets too small for this mode: {num_buckets}")
    check(max_distance > max_exact, f"max_distance must exceed {max_exact}, got {max_distance}")
    relative_position = relative_position.long()
    if bidirectional:
        offset = (relative_position > 0).long() * per_side
        distance = relative_position.abs()
    else:
        offset = torch.zeros_like(relative_position)
        distance = (-relative_position).clamp(min=0)
    log_ratio = torch.log(distance.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
    large = (max_exact + (log_ratio * (per_side - max_exact)).long()).clamp(max=per_side - 1)
    return offset + torch.where(distance < max_exact, distance, large)

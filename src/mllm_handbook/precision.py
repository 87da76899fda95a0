r"""Floating-point formats and mixed-precision training, written out.

* FP32, FP16 and BF16 trade exponent bits (range) against mantissa bits (precision); FP8 comes in two
  encodings, E4M3 and E5M2 (Micikevicius et al., 2022; arXiv 2209.05433).
* Mixed-precision training (Micikevicius et al., 2018; arXiv 1710.03740) runs the forward and backward passes
  in 16 bits, keeps an FP32 master copy of the weights for the update, and scales the loss so that small
  FP16 gradients do not underflow; :func:`unscale_gradients` and :func:`update_loss_scale` are the dynamic
  loss scaling of ``torch.amp.GradScaler``.
* FP8 training scales each tensor, or each block of a tensor, into the narrow FP8 range
  (:func:`fp8_fake_quantize`; DeepSeek-AI, 2024, arXiv 2412.19437, §3.3).
"""

from __future__ import annotations

import math

import torch

from mllm_handbook._checks import check, check_floating

#: Bytes per parameter of the model states in a typical mixed-precision step with Adam (ZeRO's accounting,
#: Rajbhandari et al., 2020, §3.1): 16-bit weights and gradients, FP32 master weights and both Adam moments.
MIXED_PRECISION_BYTES = {
    "16-bit weights": 2,
    "16-bit gradients": 2,
    "fp32 master weights": 4,
    "fp32 Adam first moment": 4,
    "fp32 Adam second moment": 4,
}


def format_summary(dtype: torch.dtype) -> dict[str, float]:
    r"""Bit layout and range of a floating-point ``dtype``, read off ``torch.finfo``.

    With $m$ mantissa bits, the spacing of numbers just above 1 is $\epsilon = 2^{-m}$, so
    $m = -\log_2 \epsilon$ and the exponent has $\text{bits} - 1 - m$ bits. The smallest subnormal is the
    smallest normal number times $\epsilon$:

    $$x_{\min}^{\text{sub}} = 2^{e_{\min}} \cdot 2^{-m}$$

    Args:
        dtype: a floating-point dtype, e.g. ``torch.bfloat16`` or ``torch.float8_e4m3fn``.

    Returns:
        ``{"bits", "exponent_bits", "mantissa_bits", "max", "smallest_normal", "smallest_subnormal", "eps"}``.
    """
    check(dtype.is_floating_point, f"dtype must be a floating-point dtype, got {dtype}")
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))
    return {
        "bits": info.bits,
        "exponent_bits": info.bits - 1 - mantissa,
        "mantissa_bits": mantissa,
        "max": info.max,
        "smallest_normal": info.smallest_normal,
        "smallest_subnormal": info.smallest_normal * info.eps,
        "eps": info.eps,
    }


def round_trip(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    r"""The value ``x`` takes when stored in ``dtype``: cast there and back.

    The cast rounds to the nearest representable value (ties to even). In FP16, magnitudes above
    65504 (more exactly, from 65520 on) become $\pm\infty$ and magnitudes up to half the smallest subnormal
    $2^{-24}$ become 0.

    Args:
        x: ``[...]`` a floating-point tensor (usually FP32).
        dtype: the storage format.

    Returns:
        ``[...]`` in ``x.dtype``.
    """
    check_floating(x, "x")
    return x.to(dtype).to(x.dtype)


def accumulate(start: float, increment: float, steps: int, dtype: torch.dtype) -> float:
    r"""Add ``increment`` to ``start`` ``steps`` times, storing the running value in ``dtype``.

    $$w_{t+1} = \mathrm{round}_{\text{dtype}}(w_t + \Delta)$$

    An update smaller than half the spacing of $w$, i.e. $|\Delta| < |w| \cdot 2^{-(m+1)}$ with $m$ mantissa
    bits, is rounded away every time, which is why mixed-precision training updates an FP32 master copy of
    the weights (Micikevicius et al., 2018, §3.1).

    Args:
        start: $w_0$.
        increment: $\Delta$, e.g. learning rate times gradient.
        steps: number of updates, $\ge 0$.
        dtype: the format that stores $w$.

    Returns:
        $w_{\text{steps}}$ as a Python float.
    """
    check(steps >= 0, f"steps must be >= 0, got {steps}")
    w = torch.tensor(start, dtype=dtype)
    delta = torch.tensor(increment, dtype=dtype)
    for _ in range(steps):
        w = w + delta
    return w.item()


def unscale_gradients(grads: list[torch.Tensor], scale: float) -> tuple[list[torch.Tensor], bool]:
    r"""Divide loss-scaled gradients by the scale in FP32 and report whether any is inf or NaN.

    Training with a loss scaled by $S$ gives gradients $S\,g$ (chain rule), so small $g$ stay above FP16's
    underflow threshold; the optimiser needs $g = (S\,g)/S$. A power-of-two $S$ only shifts exponents, so
    scaling and unscaling add no rounding error of their own. If any value overflowed, the step must be
    skipped (as ``torch.amp.GradScaler.step`` does).

    Args:
        grads: list of gradient tensors of the scaled loss, any floating dtype.
        scale: $S > 0$.

    Returns:
        ``(unscaled FP32 gradients, found_inf)``.
    """
    check(scale > 0, f"scale must be > 0, got {scale}")
    unscaled = [g.float() / scale for g in grads]
    found_inf = any(not torch.isfinite(g).all() for g in unscaled)
    return unscaled, found_inf


def update_loss_scale(
    scale: float,
    good_steps: int,
    found_inf: bool,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> tuple[float, int]:
    r"""Dynamic loss scaling: back off on overflow, grow after a run of good steps.

    $$S \leftarrow \begin{cases} S \cdot \beta & \text{if a gradient is inf/NaN (the step is skipped)} \\
    S \cdot \gamma & \text{after } N \text{ consecutive finite steps} \\ S & \text{otherwise} \end{cases}$$

    with $\beta$ = ``backoff_factor``, $\gamma$ = ``growth_factor`` and $N$ = ``growth_interval``; the
    defaults are ``torch.amp.GradScaler``'s, which starts at $S = 2^{16}$.

    Args:
        scale: current $S$.
        good_steps: consecutive finite steps so far.
        found_inf: whether this step's gradients overflowed.
        growth_factor: $\gamma > 1$.
        backoff_factor: $\beta \in (0, 1)$.
        growth_interval: $N \ge 1$.

    Returns:
        ``(new scale, new good_steps)``.
    """
    check(growth_factor > 1, f"growth_factor must be > 1, got {growth_factor}")
    check(0 < backoff_factor < 1, f"backoff_factor must be in (0, 1), got {backoff_factor}")
    check(growth_interval >= 1, f"growth_interval must be >= 1, got {growth_interval}")
    if found_inf:
        return scale * backoff_factor, 0
    if good_steps + 1 == growth_interval:
        return scale * growth_factor, 0
    return scale, good_steps + 1


def fp8_fake_quantize(
    x: torch.Tensor, dtype: torch.dtype = torch.float8_e4m3fn, block_size: int | None = None
) -> torch.Tensor:
    r"""Quantise to FP8 with an absmax scale per tensor or per block, and dequantise.

    Each group $G$ (the whole tensor, or ``block_size`` consecutive elements of the last dimension, DeepSeek-V3's
    $1 \times 128$ activation tiles) gets its own scale so that its largest magnitude maps to the format's
    maximum:

    $$s_G = \frac{\max_{i \in G} |x_i|}{x_{\max}^{\text{fp8}}}, \qquad \hat x_i = s_G \cdot \mathrm{fp8}(x_i / s_G)$$

    One outlier makes a per-tensor scale large and pushes the other values into FP8's subnormals or to 0;
    per-block scales confine the damage to the outlier's block (DeepSeek-AI, 2024, §3.3.2).

    Args:
        x: ``[..., n]`` floating-point tensor.
        dtype: ``torch.float8_e4m3fn`` or ``torch.float8_e5m2``.
        block_size: elements per group along the last dim (must divide ``n``); ``None`` = one scale.

    Returns:
        ``[..., n]`` dequantised values in ``x.dtype``.
    """
    check_floating(x, "x")
    check(dtype in (torch.float8_e4m3fn, torch.float8_e5m2), f"dtype must be an FP8 dtype, got {dtype}")
    n = x.shape[-1]
    check(
        block_size is None or (block_size >= 1 and n % block_size == 0), "block_size must divide x.shape[-1]"
    )
    groups = x.reshape(1, -1) if block_size is None else x.reshape(-1, n // block_size, block_size)
    amax = groups.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(amax > 0, amax / torch.finfo(dtype).max, torch.ones_like(amax))
    return ((groups / scale).to(dtype).to(x.dtype) * scale).reshape(x.shape)

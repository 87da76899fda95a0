r"""Normalisation layers written out: LayerNorm, RMSNorm and (training-mode) BatchNorm.

All three rescale activations with statistics; they differ in **which axis the statistics come from**.
For a batch of token features ``x`` of shape ``[batch, seq, features]``:

* LayerNorm and RMSNorm use each token's own features (the last dim), so a token's output never depends on
  other tokens, other sequences, the batch size or padding.
* BatchNorm uses every token of the batch for each feature, so padding and batch composition leak into
  every real token's output, and inference needs running statistics.
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check, check_floating, check_last_dim


def layer_norm(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Layer normalisation over the last dimension (Ba et al., 2016).

    $$\mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,\quad
    \mu = \frac{1}{d}\sum_{i=1}^{d} x_i,\quad \sigma^2 = \frac{1}{d}\sum_{i=1}^{d} (x_i - \mu)^2$$

    The variance is the biased one (divide by $d$), as in ``torch.nn.functional.layer_norm``.

    Args:
        x: ``[..., d]`` activations.
        weight: optional gain $\gamma$, shape ``[d]``.
        bias: optional shift $\beta$, shape ``[d]``.
        eps: added to the variance for numerical stability.

    Returns:
        ``[..., d]``, each vector along the last dim with mean 0 and variance 1 before $\gamma, \beta$.
    """
    check_floating(x, "x")
    check_last_dim(x, "x", weight, "weight")
    check_last_dim(x, "x", bias, "bias")
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    r"""Root-mean-square normalisation over the last dimension (Zhang & Sennrich, 2019).

    $$\mathrm{RMSNorm}(x) = \gamma \odot \frac{x}{\sqrt{\frac{1}{d}\sum_{i=1}^{d} x_i^2 + \epsilon}}$$

    No mean is subtracted and there is no bias: it keeps LayerNorm's re-scaling invariance and drops its
    re-centring. LLaMA, Qwen and most recent LLMs use it.

    Args:
        x: ``[..., d]`` activations.
        weight: optional gain $\gamma$, shape ``[d]``.
        eps: added to the mean square for numerical stability.

    Returns:
        ``[..., d]`` with root mean square 1 along the last dim (before $\gamma$).
    """
    check_floating(x, "x")
    check_last_dim(x, "x", weight, "weight")
    y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
    return y * weight if weight is not None else y


def batch_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""Training-mode batch normalisation: statistics over every dim but the last (Ioffe & Szegedy, 2015).

    For features ``x[..., c]``, with the mean and biased variance taken over all other positions $n$:

    $$\mathrm{BN}(x)_{n,c} = \frac{x_{n,c} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}},\quad
    \mu_c = \frac{1}{N}\sum_{n} x_{n,c}$$

    For token sequences ``[batch, seq, d]`` this pools every token of every sequence, **padding included**,
    into each feature's statistics. No affine parameters and no running statistics: this is the
    training-mode computation only.

    Args:
        x: ``[..., d]`` activations with at least two positions to average over.
        eps: added to the variance for numerical stability.

    Returns:
        ``[..., d]``, each feature with mean 0 and variance 1 across the batch.
    """
    check(x[..., 0].numel() >= 2, f"batch_norm needs >= 2 positions per feature, got shape {list(x.shape)}")
    flat = x.reshape(-1, x.shape[-1])
    mean = flat.mean(dim=0)
    var = flat.var(dim=0, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)

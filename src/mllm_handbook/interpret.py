r"""Two attribution methods that often disagree: attention rollout and gradient times input.

* :func:`attention_rollout` (Abnar & Zuidema, 2020, arXiv 2005.00928) follows attention through the layers,
  modelling the residual connection as an identity path. It uses attention weights only, so it ignores
  how large the value vectors are and what the layers after attention do with them.
* :func:`gradient_times_input` is a first-order (Taylor) attribution of one output to each input token.

Neither is a causal explanation; see Jain & Wallace (2019, arXiv 1902.10186) and Wiegreffe & Pinter
(2019, arXiv 1908.04626).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mllm_handbook._checks import check


def attention_rollout(attentions: torch.Tensor, residual_weight: float = 0.5) -> torch.Tensor:
    r"""Attention rollout through a stack of self-attention layers (Abnar & Zuidema, 2020).

    Each layer's attention (heads averaged beforehand) is mixed with the identity for the residual path and
    re-normalised, then the layers are multiplied from the first to the last:

    $$\tilde{A}_l = \mathrm{rownorm}\left((1-w)\,A_l + w\,I\right),\qquad
    R = \tilde{A}_L \tilde{A}_{L-1} \cdots \tilde{A}_1$$

    with $w = 0.5$ in the paper. Row $t$ of $R$ spreads output token $t$ over the input tokens, and every
    row sums to 1.

    Args:
        attentions: ``[L, T, T]`` row-stochastic attention maps, layer 1 first.
        residual_weight: weight $w \in [0, 1]$ of the identity (residual) path.

    Returns:
        ``[T, T]`` rollout matrix $R$.
    """
    check(
        attentions.dim() == 3 and attentions.shape[1] == attentions.shape[2],
        f"attentions must be [L, T, T], got {list(attentions.shape)}",
    )
    check(0 <= residual_weight <= 1, f"residual_weight must be in [0, 1], got {residual_weight}")
    eye = torch.eye(attentions.shape[-1], dtype=attentions.dtype, device=attentions.device)
    rollout = eye
    for attention in attentions:
        mixed = (1 - residual_weight) * attention + residual_weight * eye
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed @ rollout
    return rollout


def gradient_times_input(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""Gradient-times-input attribution of a scalar output to each input token.

    $$a_t = \sum_{k} x_{t,k}\,\frac{\partial f(x)}{\partial x_{t,k}}$$

    For a linear $f$ without bias the scores sum to $f(x)$; in general they are a first-order
    approximation around $x$.

    Args:
        fn: maps ``x`` to a scalar tensor.
        x: ``[T, d]`` input token features.

    Returns:
        ``[T]`` attribution scores (signed).
    """
    check(x.dim() == 2, f"x must be [T, d], got {list(x.shape)}")
    x = x.detach().clone().requires_grad_(True)
    output = fn(x)
    check(output.dim() == 0, f"fn must return a scalar, got shape {list(output.shape)}")
    (grad,) = torch.autograd.grad(output, x)
    return (grad * x).sum(dim=-1).detach()

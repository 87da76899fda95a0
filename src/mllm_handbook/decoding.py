r"""Decoding-time hallucination mitigation: visual contrastive decoding (Leng et al., 2023, arXiv 2311.16922).

The model is run twice for the same prefix: once on the real image and once on a distorted one (VCD adds
Gaussian noise to the image). Tokens that stay likely without clear visual evidence come from language
priors; contrasting the two distributions down-weights them.
"""

from __future__ import annotations

import math

import torch

from mllm_handbook._checks import check


def contrastive_decoding_logits(
    logits: torch.Tensor, distorted_logits: torch.Tensor, alpha: float = 1.0, beta: float = 0.1
) -> torch.Tensor:
    r"""Visual contrastive decoding (VCD) logits with the adaptive plausibility constraint.

    $$\ell_{\mathrm{vcd}} = (1+\alpha)\,\ell(y \mid v, x) - \alpha\,\ell(y \mid v', x)$$

    Only tokens that are plausible under the *original* distribution survive; the others get $-\infty$:

    $$\mathcal{V}_{\mathrm{head}} = \{\, y : \log p(y \mid v, x) \ge \log\beta + \max_w \log p(w \mid v, x) \,\}$$

    Without the cut-off, a token that is unlikely under both inputs but even less likely under the
    distorted one would be boosted; the constraint keeps the contrast from promoting implausible tokens.

    Args:
        logits: ``[..., vocab]`` next-token logits given the real image $v$.
        distorted_logits: ``[..., vocab]`` logits given the distorted image $v'$, same shape.
        alpha: contrast strength $\alpha \ge 0$; ``alpha = 0`` returns the original logits (cut-off applied).
        beta: plausibility threshold $\beta \in (0, 1]$ relative to the most likely token.

    Returns:
        ``[..., vocab]`` contrasted logits, ``-inf`` outside $\mathcal{V}_{\mathrm{head}}$.
    """
    check(
        logits.shape == distorted_logits.shape,
        f"logits and distorted_logits must have the same shape, got {list(logits.shape)} "
        f"and {list(distorted_logits.shape)}",
    )
    check(alpha >= 0, f"alpha must be >= 0, got {alpha}")
    check(0 < beta <= 1, f"beta must be in (0, 1], got {beta}")
    log_probs = torch.log_softmax(logits, dim=-1)
    cutoff = math.log(beta) + log_probs.max(dim=-1, keepdim=True).values
    contrasted = (1 + alpha) * logits - alpha * distorted_logits
    return contrasted.masked_fill(log_probs < cutoff, float("-inf"))

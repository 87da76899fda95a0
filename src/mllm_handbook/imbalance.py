r"""Losses and samplers for imbalanced (and noisy) data: class weights, focal loss, balanced sampling.

* Class-weighted cross-entropy: rare classes get larger weights.
* Focal loss (Lin et al., 2017; arXiv 1708.02002): down-weights easy, well-classified examples by $(1-p_t)^\gamma$.
* Balanced sampling: draw each example with probability inversely proportional to its class count.
* Similarity filtering of image-text pairs, as used to clean web data (e.g. LAION's CLIP-score threshold).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check, check_floating


def _check_logits_targets(logits: torch.Tensor, targets: torch.Tensor) -> None:
    check_floating(logits, "logits")
    check(logits.dim() == 2, f"logits must be [batch, classes], got {list(logits.shape)}")
    check(
        targets.shape == logits.shape[:1], f"targets must be [{logits.shape[0]}], got {list(targets.shape)}"
    )
    check(not targets.is_floating_point(), "targets must be integer class ids")


def class_counts(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[num_classes]`` number of examples per class."""
    check(targets.numel() == 0 or int(targets.max()) < num_classes, "a target id is >= num_classes")
    return torch.bincount(targets, minlength=num_classes)


def inverse_frequency_weights(counts: torch.Tensor) -> torch.Tensor:
    r"""Per-class weights $w_c = \frac{N}{K\, n_c}$ (mean weight over the examples is 1).

    Args:
        counts: ``[K]`` examples per class, all > 0.

    Returns:
        ``[K]`` float weights.
    """
    check(bool((counts > 0).all()), "every class needs at least one example")
    counts = counts.double()
    return (counts.sum() / (len(counts) * counts)).float()


def weighted_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    r"""Class-weighted cross-entropy, normalised by the total weight (as ``F.cross_entropy(weight=...)``).

    $$\mathcal{L} = \frac{\sum_n w_{y_n} \left(-\log p_{n, y_n}\right)}{\sum_n w_{y_n}}$$

    Args:
        logits: ``[batch, classes]``.
        targets: ``[batch]`` class ids.
        weights: ``[classes]`` per-class weights.

    Returns:
        Scalar loss.
    """
    _check_logits_targets(logits, targets)
    check(
        weights.shape == logits.shape[1:], f"weights must be [{logits.shape[1]}], got {list(weights.shape)}"
    )
    nll = -logits.log_softmax(-1).gather(1, targets[:, None]).squeeze(1)
    w = weights[targets]
    return (w * nll).sum() / w.sum()


def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, alpha: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Multi-class focal loss, mean over the batch (Lin et al., 2017, eq. 5, with softmax probabilities).

    $$\mathrm{FL}(p_t) = -\alpha_t (1 - p_t)^\gamma \log p_t$$

    $p_t$ is the probability of the true class. $\gamma = 0$ and no $\alpha$ give plain cross-entropy.

    Args:
        logits: ``[batch, classes]``.
        targets: ``[batch]`` class ids.
        gamma: focusing parameter $\gamma \ge 0$ (the paper uses 2).
        alpha: optional ``[classes]`` class weights $\alpha_t$.

    Returns:
        Scalar loss.
    """
    _check_logits_targets(logits, targets)
    check(gamma >= 0, f"gamma must be >= 0, got {gamma}")
    log_pt = logits.log_softmax(-1).gather(1, targets[:, None]).squeeze(1)
    loss = -((1 - log_pt.exp()) ** gamma) * log_pt
    if alpha is not None:
        check(alpha.shape == logits.shape[1:], f"alpha must be [{logits.shape[1]}], got {list(alpha.shape)}")
        loss = alpha[targets] * loss
    return loss.mean()


def balanced_sample_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    r"""Per-example sampling weights $1 / n_{y_n}$ for ``torch.utils.data.WeightedRandomSampler``.

    Every class then has the same total weight, so in expectation classes are drawn equally often.

    Args:
        targets: ``[N]`` class ids.
        num_classes: $K$.

    Returns:
        ``[N]`` float weights.
    """
    counts = class_counts(targets, num_classes)
    return 1.0 / counts[targets].double()


def similarity_filter(
    image_features: torch.Tensor, text_features: torch.Tensor, threshold: float
) -> torch.Tensor:
    r"""Keep image-text pairs whose cosine similarity reaches ``threshold`` (CLIP-score filtering).

    $$\mathrm{keep}_n = \left[\cos(v_n, t_n) \ge \tau\right]$$

    Args:
        image_features: ``[N, d]``.
        text_features: ``[N, d]``, row n paired with image n.
        threshold: $\tau$ in ``[-1, 1]``.

    Returns:
        ``[N]`` boolean mask.
    """
    check_floating(image_features, "image_features")
    check(image_features.shape == text_features.shape, "image and text features must have the same shape")
    check(-1 <= threshold <= 1, f"threshold must be in [-1, 1], got {threshold}")
    return F.cosine_similarity(image_features, text_features, dim=-1) >= threshold

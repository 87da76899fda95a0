r"""Where modalities meet: early, late and mid fusion, plus modality dropout and mask-aware fusion.

The classical taxonomy (Baltrušaitis et al., 2019) is about the *stage* at which information is combined:

* **early** (feature-level): concatenate the modalities' features, then one joint model;
* **late** (decision-level): one model per modality, then combine their predictions;
* **mid** (intermediate / hybrid): encode each modality separately for a few layers, then let the
  token sequences interact (here: joint self-attention over the concatenated tokens).

The last two functions handle missing modalities: :func:`modality_dropout` removes whole modalities at
training time (ModDrop, Neverova et al., 2016) and :func:`masked_fusion` averages only what is present.
"""

from __future__ import annotations

import torch
from torch import nn

from mllm_handbook._checks import check


def _check_pair(xs: list[torch.Tensor], dims: list[int]) -> None:
    check(len(xs) == len(dims), f"expected {len(dims)} modalities, got {len(xs)}")
    for m, (x, d) in enumerate(zip(xs, dims, strict=True)):
        check(x.shape[-1] == d, f"modality {m} must have last dim {d}, got {x.shape[-1]}")
    check(len({x.shape[:-1] for x in xs}) == 1, "all modalities must share the leading (batch) dims")


class EarlyFusion(nn.Module):
    r"""Concatenate the feature vectors, then one joint head.

    $$z = f\big([x_1; x_2; \dots; x_M]\big)$$

    Args:
        dims: feature width of each modality.
        num_classes: output size.
        hidden: width of the joint MLP.
    """

    def __init__(self, dims: list[int], num_classes: int, hidden: int = 16) -> None:
        super().__init__()
        self.dims = list(dims)
        self.head = nn.Sequential(nn.Linear(sum(dims), hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """``features[m]: [batch, dims[m]]`` → logits ``[batch, num_classes]``."""
        _check_pair(features, self.dims)
        return self.head(torch.cat(features, dim=-1))


def late_fusion(logits: list[torch.Tensor], weights: torch.Tensor | None = None) -> torch.Tensor:
    r"""Decision-level fusion: a weighted mean of the per-modality predictions.

    $$z = \frac{\sum_m w_m z_m}{\sum_m w_m}$$

    With $w_m = 0$ for every modality but one, $z$ is exactly that modality's own prediction.

    Args:
        logits: per-modality predictions, each ``[batch, num_classes]``.
        weights: ``[num_modalities]`` or ``[batch, num_modalities]`` non-negative weights (default: equal).

    Returns:
        ``[batch, num_classes]``.
    """
    check(len(logits) >= 1, "late_fusion needs at least one modality")
    check(len({z.shape for z in logits}) == 1, "all per-modality logits must have the same shape")
    stacked = torch.stack(logits, dim=-1)  # [batch, classes, M]
    w = torch.ones(len(logits)) if weights is None else weights
    check(w.shape[-1] == len(logits), f"weights must have {len(logits)} entries, got {w.shape[-1]}")
    check(bool((w >= 0).all()) and bool((w.sum(-1) > 0).all()), "weights must be >= 0 with a positive sum")
    w = w.unsqueeze(-2) if w.dim() == 2 else w  # [batch, 1, M] broadcasts over classes
    return (stacked * w).sum(-1) / w.sum(-1)


class MidFusion(nn.Module):
    r"""Per-modality encoder layers, then joint self-attention over the concatenated token sequences.

    $$H_m = \mathrm{Enc}_m(X_m W_m),\qquad H = \mathrm{Joint}([H_1; H_2])$$

    Before the joint layer the modalities never see each other; inside it every token attends to every
    token of both modalities (a single-stream block, as in UNITER or a decoder-only MLLM).

    Args:
        dims: token width of each modality.
        dim: shared model width.
        num_classes: output size (pooled over all tokens).
        num_heads: attention heads.
    """

    def __init__(self, dims: list[int], dim: int, num_classes: int, num_heads: int = 2) -> None:
        super().__init__()
        self.dims = list(dims)

        def layer() -> nn.TransformerEncoderLayer:
            return nn.TransformerEncoderLayer(dim, num_heads, 2 * dim, dropout=0.0, batch_first=True)

        self.inputs = nn.ModuleList(nn.Linear(d, dim) for d in dims)
        self.encoders = nn.ModuleList(layer() for _ in dims)
        self.joint = layer()
        self.head = nn.Linear(dim, num_classes)

    def forward(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        """``tokens[m]: [batch, len_m, dims[m]]`` → logits ``[batch, num_classes]``."""
        check(all(t.dim() == 3 for t in tokens), "each modality must be [batch, tokens, dim]")
        check(len(tokens) == len(self.dims), f"expected {len(self.dims)} modalities, got {len(tokens)}")
        for m, (t, d) in enumerate(zip(tokens, self.dims, strict=True)):
            check(t.shape[-1] == d, f"modality {m} must have last dim {d}, got {t.shape[-1]}")
        encoded = [enc(proj(t)) for t, proj, enc in zip(tokens, self.inputs, self.encoders, strict=True)]
        return self.head(self.joint(torch.cat(encoded, dim=1)).mean(dim=1))


def modality_dropout(
    features: torch.Tensor, p: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Drop whole modalities per sample at training time, never all of them (ModDrop-style).

    Each modality of each sample is dropped with probability $p$; a sample that would lose every
    modality keeps one at random. Dropped features are zeroed **and** reported in the mask, so a
    mask-aware fusion can ignore them rather than read the zeros as a real input.

    Args:
        features: ``[batch, num_modalities, dim]``.
        p: drop probability in ``[0, 1)``.
        generator: optional ``torch.Generator`` for reproducibility.

    Returns:
        ``(features * mask, mask)``, with boolean ``mask [batch, num_modalities]`` (True = present).
    """
    check(features.dim() == 3, f"features must be [batch, num_modalities, dim], got {list(features.shape)}")
    check(0.0 <= p < 1.0, f"p must be in [0, 1), got {p}")
    batch, num_modalities, _ = features.shape
    mask = torch.rand(batch, num_modalities, generator=generator) >= p
    keep = torch.randint(num_modalities, (batch,), generator=generator)
    none_left = ~mask.any(dim=1)
    mask[none_left, keep[none_left]] = True
    return features * mask.unsqueeze(-1), mask


def masked_fusion(
    features: torch.Tensor, mask: torch.Tensor, scores: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Mask-aware fusion: a softmax-weighted sum over the modalities that are present.

    $$\hat{x} = \sum_{m:\, \mathrm{mask}_m} \frac{e^{s_m}}{\sum_{m':\, \mathrm{mask}_{m'}} e^{s_{m'}}}\, x_m$$

    Missing modalities get score $-\infty$, so their weight is exactly 0 and their *values* (zeros,
    noise, a stale frame) cannot affect the output. With ``scores=None`` this is the mean of the present
    modalities; learned ``scores`` (e.g. from a gating network) make it attention-style adaptive fusion.

    Args:
        features: ``[batch, num_modalities, dim]``.
        mask: boolean ``[batch, num_modalities]``, True = present; every row needs one True.
        scores: optional ``[batch, num_modalities]`` gating logits.

    Returns:
        ``[batch, dim]``.
    """
    check(mask.dtype == torch.bool, f"mask must be boolean (True = modality present), got {mask.dtype}")
    check(bool(mask.any(dim=1).all()), "every sample needs at least one present modality")
    s = torch.zeros(mask.shape, dtype=features.dtype) if scores is None else scores
    weights = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=1)
    # where() rather than multiply: a NaN or inf in a missing modality must not leak through 0 * x.
    present = torch.where(mask.unsqueeze(-1), features, torch.zeros_like(features))
    return (weights.unsqueeze(-1) * present).sum(dim=1)

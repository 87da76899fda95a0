r"""Auxiliary contrastive supervision against hallucination: hallucinated captions as hard negatives.

HACL (Jiang et al., 2023, arXiv 2312.06968) adds captions that contain hallucinations, written by rewriting
the correct caption, to the negatives of an image-text contrastive loss. The image is then pulled towards
its faithful caption and pushed away both from the other captions in the batch and from near-identical
captions that name an object, attribute or relation that is not in the image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check


def infonce_with_hallucinated_negatives(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    hallucinated_features: torch.Tensor | None = None,
    temperature: float = 0.07,
) -> torch.Tensor:
    r"""Symmetric image-text InfoNCE whose image-to-text direction also sees hallucinated captions.

    With L2-normalised features $v_i, t_j$, hallucinated captions $h_{i,m}$ of image $i$ and
    $s(a, b) = a^\top b / \tau$:

    $$\mathcal{L}_{v \to t} = -\frac{1}{N}\sum_{i=1}^{N} \log
    \frac{e^{s(v_i, t_i)}}{\sum_{j=1}^{N} e^{s(v_i, t_j)} + \sum_{m=1}^{M} e^{s(v_i, h_{i,m})}}$$

    The text-to-image direction $\mathcal{L}_{t \to v}$ is the plain InfoNCE over images, and the loss is
    $\frac{1}{2}(\mathcal{L}_{v \to t} + \mathcal{L}_{t \to v})$. With no hallucinated captions ($M = 0$)
    it is exactly the symmetric CLIP/InfoNCE loss.

    Args:
        image_features: ``[N, d]`` image embeddings.
        text_features: ``[N, d]`` embeddings of the faithful captions; row ``i`` matches image ``i``.
        hallucinated_features: optional ``[N, M, d]``, ``M`` hallucinated captions per image.
        temperature: softmax temperature $\tau > 0$.

    Returns:
        Scalar loss.
    """
    check(
        image_features.dim() == 2 and image_features.shape == text_features.shape,
        f"image_features and text_features must both be [N, d], got {list(image_features.shape)} "
        f"and {list(text_features.shape)}",
    )
    check(temperature > 0, f"temperature must be > 0, got {temperature}")
    v = F.normalize(image_features, dim=-1)
    t = F.normalize(text_features, dim=-1)
    logits = v @ t.T / temperature  # [N, N], positives on the diagonal
    targets = torch.arange(v.shape[0], device=v.device)
    text_to_image = F.cross_entropy(logits.T, targets)
    if hallucinated_features is not None:
        check(
            hallucinated_features.dim() == 3
            and hallucinated_features.shape[0] == v.shape[0]
            and hallucinated_features.shape[2] == v.shape[1],
            f"hallucinated_features must be [N, M, d] = [{v.shape[0]}, M, {v.shape[1]}], "
            f"got {list(hallucinated_features.shape)}",
        )
        h = F.normalize(hallucinated_features, dim=-1)
        extra = torch.einsum("nd,nmd->nm", v, h) / temperature  # [N, M]
        logits = torch.cat([logits, extra], dim=1)  # targets still point at the diagonal
    image_to_text = F.cross_entropy(logits, targets)
    return (image_to_text + text_to_image) / 2

r"""Evaluation metrics for retrieval and object hallucination: Recall@K, CHAIR and POPE.

* :func:`recall_at_k` scores cross-modal retrieval from a square similarity matrix (the match of query
  ``i`` is item ``i``), as in CLIP-style zero-shot retrieval evaluation.
* :func:`chair` measures object hallucination in free-form captions: how many of the objects a caption
  mentions are *not* in the image (Rohrbach et al., 2018). Lower is better.
* :func:`pope_metrics` scores yes/no answers to "Is there a <object> in the image?" (Li et al., 2023).
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check


def recall_at_k(similarity: torch.Tensor, k: int) -> torch.Tensor:
    r"""Recall@K for retrieval where the match of query ``i`` is item ``i``.

    A query counts as a hit when its match is among the ``k`` highest-scoring items. The rank of the match
    is the number of items that score *strictly* higher, so ties are resolved in the match's favour.

    $$\mathrm{R@K} = \frac{1}{N}\sum_{i=1}^{N} \mathbb{1}\left[\,\left|\{j : s_{ij} > s_{ii}\}\right| < K\,\right]$$

    Image-to-text retrieval uses ``similarity``; text-to-image retrieval uses ``similarity.T``.
    R@K never decreases with K and equals 1 at K = N.

    Args:
        similarity: ``[N, N]`` scores, ``similarity[i, j]`` = score of query ``i`` against item ``j``.
        k: how many top items count, ``1 <= k <= N``.

    Returns:
        The fraction of queries whose match is in the top ``k``: a 0-dim float tensor in ``[0, 1]``.
    """
    check(
        similarity.dim() == 2 and similarity.shape[0] == similarity.shape[1] and similarity.shape[0] > 0,
        f"similarity must be a non-empty square [N, N] matrix, got shape {list(similarity.shape)}",
    )
    n = similarity.shape[0]
    check(1 <= k <= n, f"k must be in [1, N] = [1, {n}], got {k}")
    matched = similarity.diagonal().unsqueeze(1)  # [N, 1]
    rank = (similarity > matched).sum(dim=1)  # items that beat the match
    return (rank < k).float().mean()


def chair(mentioned_objects: list[set[str]], ground_truth_objects: list[set[str]]) -> tuple[float, float]:
    r"""CHAIR object-hallucination rates for a set of captions (Rohrbach et al., 2018, arXiv 1809.02156).

    An object mention is *hallucinated* when the object is not in that image's ground-truth set.

    $$\mathrm{CHAIR}_i = \frac{|\{\text{hallucinated objects}\}|}{|\{\text{all objects mentioned}\}|}$$

    $$\mathrm{CHAIR}_s = \frac{|\{\text{captions with a hallucinated object}\}|}{|\{\text{all captions}\}|}$$

    Both are error rates: lower is better. Each object counts once per caption here (sets); the
    reference script maps synonyms to the 80 COCO categories before counting.

    Args:
        mentioned_objects: one set per caption, the objects the caption mentions.
        ground_truth_objects: one set per caption, the objects actually in its image.

    Returns:
        ``(chair_s, chair_i)`` as floats in ``[0, 1]``.
    """
    check(len(mentioned_objects) > 0, "mentioned_objects must contain at least one caption")
    check(
        len(mentioned_objects) == len(ground_truth_objects),
        f"need one ground-truth set per caption, got {len(mentioned_objects)} captions "
        f"and {len(ground_truth_objects)} ground-truth sets",
    )
    hallucinated = [
        mentioned - truth for mentioned, truth in zip(mentioned_objects, ground_truth_objects, strict=True)
    ]
    num_mentions = sum(len(mentioned) for mentioned in mentioned_objects)
    check(num_mentions > 0, "the captions mention no objects, so CHAIR_i is undefined")
    chair_i = sum(len(h) for h in hallucinated) / num_mentions
    chair_s = sum(1 for h in hallucinated if h) / len(mentioned_objects)
    return chair_s, chair_i


def pope_metrics(predictions: list[bool], labels: list[bool]) -> dict[str, float]:
    r"""POPE scores for yes/no object-existence answers (Li et al., 2023, arXiv 2305.10355).

    "Yes" is the positive class, as in the POPE evaluation script:

    $$\mathrm{precision} = \frac{TP}{TP+FP},\quad \mathrm{recall} = \frac{TP}{TP+FN},\quad
    F_1 = \frac{2PR}{P+R}$$

    ``yes_ratio`` is the fraction of "yes" answers; on POPE's balanced splits an unbiased model is near 0.5,
    and a model that says "yes" to everything gets 1.0 with recall 1 but precision 0.5.
    Precision (and F1) is reported as 0 when the model never says "yes".

    Args:
        predictions: the model's answers, ``True`` = "yes".
        labels: the ground truth, ``True`` = the object is in the image.

    Returns:
        A dict with ``accuracy``, ``precision``, ``recall``, ``f1`` and ``yes_ratio`` (floats).
    """
    check(len(predictions) > 0, "predictions must not be empty")
    check(
        len(predictions) == len(labels),
        f"predictions and labels must have the same length, got {len(predictions)} and {len(labels)}",
    )
    pairs = list(zip(predictions, labels, strict=True))
    tp = sum(1 for p, y in pairs if p and y)
    fp = sum(1 for p, y in pairs if p and not y)
    fn = sum(1 for p, y in pairs if not p and y)
    tn = len(pairs) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / len(pairs),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": (tp + fp) / len(pairs),
    }

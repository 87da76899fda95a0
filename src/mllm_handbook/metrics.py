r"""Evaluation metrics: retrieval, object hallucination, pass@k, and the statistics of an accuracy gap.

* :func:`recall_at_k` scores cross-modal retrieval from a square similarity matrix (the match of query
  ``i`` is item ``i``), as in CLIP-style zero-shot retrieval evaluation; :func:`retrieval_recall_at_k`
  and :func:`mean_reciprocal_rank` score a query-by-document matrix with any set of relevant documents
  (RAG retrieval).
* :func:`chair` measures object hallucination in free-form captions: how many of the objects a caption
  mentions are *not* in the image (Rohrbach et al., 2018). Lower is better.
* :func:`pope_metrics` scores yes/no answers to "Is there a <object> in the image?" (Li et al., 2023).
* :func:`pass_at_k` is the unbiased pass@k estimator of the Codex paper (Chen et al., 2021).
* :func:`accuracy_standard_error`, :func:`paired_bootstrap_ci` and :func:`mcnemar_exact` say whether an
  accuracy, or the gap between two models scored on the same items, is larger than sampling noise.
"""

from __future__ import annotations

import math

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
    n = len(similarity)
    check(similarity.shape == (n, n), f"similarity must be square [N, N], got {list(similarity.shape)}")
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
    pairs = zip(mentioned_objects, ground_truth_objects, strict=True)  # one ground-truth set per caption
    hallucinated = [mentioned - truth for mentioned, truth in pairs]
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
    pairs = list(zip(predictions, labels, strict=True))  # one label per answer
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


def _ranks(scores: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """``[Q, D]`` rank of each item in its query's list: the number of items scoring strictly higher."""
    check(
        scores.dim() == 2 and relevant.shape == scores.shape,
        f"need scores [Q, D] and a boolean relevant mask of the same shape, got {list(scores.shape)} "
        f"and {list(relevant.shape)}",
    )
    check(bool(relevant.any(dim=1).all()), "every query needs at least one relevant item")
    return (scores.unsqueeze(1) > scores.unsqueeze(2)).sum(dim=2)


def retrieval_recall_at_k(scores: torch.Tensor, relevant: torch.Tensor, k: int) -> torch.Tensor:
    r"""Recall@K of a retriever: the fraction of each query's relevant items found in its top ``k``, averaged.

    $$\mathrm{R@K} = \frac{1}{Q}\sum_{q=1}^{Q} \frac{|\{d \in \mathcal{R}_q : \mathrm{rank}_q(d) < K\}|}
    {|\mathcal{R}_q|}$$

    $\mathrm{rank}_q(d)$ counts the items that score *strictly* higher than $d$ (ties count in its
    favour, as in :func:`recall_at_k`, which this equals when ``relevant`` is the identity). With one
    relevant item per query it is DPR's "top-k retrieval accuracy" (Karpukhin et al., 2020).

    Args:
        scores: ``[Q, D]`` retrieval scores, higher = more relevant.
        relevant: ``[Q, D]`` boolean, True where document ``d`` is relevant to query ``q``.
        k: how many top documents count, ``1 <= k <= D``.

    Returns:
        A 0-dim float tensor in ``[0, 1]``.
    """
    check(1 <= k <= scores.shape[1], f"k must be in [1, D] = [1, {scores.shape[1]}], got {k}")
    hits = (_ranks(scores, relevant) < k) & relevant
    return (hits.sum(dim=1) / relevant.sum(dim=1)).mean()


def mean_reciprocal_rank(scores: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    r"""Mean reciprocal rank (MRR) of the first relevant item of each query.

    $$\mathrm{MRR} = \frac{1}{Q}\sum_{q=1}^{Q} \frac{1}{1 + \min_{d \in \mathcal{R}_q} \mathrm{rank}_q(d)}$$

    Ranks are 0-based counts of strictly higher scores, so a relevant item in first place scores 1.

    Args:
        scores: ``[Q, D]`` retrieval scores, higher = more relevant.
        relevant: ``[Q, D]`` boolean relevance mask, at least one True per row.

    Returns:
        A 0-dim float tensor in ``(0, 1]``.
    """
    ranks = _ranks(scores, relevant).masked_fill(~relevant, scores.shape[1])
    return (1.0 / (1.0 + ranks.min(dim=1).values)).mean()


def pass_at_k(n: int, c: int, k: int) -> float:
    r"""Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al., 2021, arXiv 2107.03374).

    The probability that at least one of ``k`` samples drawn without replacement from the ``n`` is correct:

    $$\text{pass@}k = 1 - \frac{\binom{n-c}{k}}{\binom{n}{k}}
    = 1 - \prod_{i=n-c+1}^{n}\left(1 - \frac{k}{i}\right)$$

    The product is the paper's numerically stable form (no huge binomials). It is 1 when $n - c < k$
    (every $k$-subset holds a correct sample: the factor $i = k$ is 0) and 0 when $c = 0$. Averaged over problems it is an unbiased
    estimate of pass@k, unlike $1 - (1 - c/n)^k$.

    Args:
        n: samples generated for the problem, ``n >= 1``.
        c: how many of them pass the tests, ``0 <= c <= n``.
        k: ``1 <= k <= n``.

    Returns:
        pass@k as a float in ``[0, 1]``.
    """
    check(0 <= c <= n, f"need 0 <= c <= n, got c={c}, n={n}")
    check(1 <= k <= n, f"need 1 <= k <= n, got k={k}, n={n}")
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def accuracy_standard_error(correct: torch.Tensor) -> float:
    r"""Standard error of an accuracy measured on ``n`` independent items.

    $$\mathrm{SE}(\hat p) = \sqrt{\frac{\hat p (1 - \hat p)}{n}}$$

    A 95 % interval is about $\hat p \pm 1.96\,\mathrm{SE}$; the SE shrinks only as $1/\sqrt{n}$
    (Miller, 2024, arXiv 2411.00640).

    Args:
        correct: ``[n]`` 0/1 or boolean per-item scores.

    Returns:
        The standard error as a float.
    """
    check(correct.dim() == 1 and correct.numel() > 0, "correct must be a non-empty 1-d tensor")
    p = correct.float().mean().item()
    return math.sqrt(p * (1 - p) / correct.numel())


def paired_bootstrap_ci(
    correct_a: torch.Tensor,
    correct_b: torch.Tensor,
    num_resamples: int = 1000,
    alpha: float = 0.05,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    r"""Percentile bootstrap interval of the accuracy gap of two models scored on the *same* items.

    Each resample draws ``n`` item indices with replacement and uses them for **both** models, so the
    per-item pairing is kept (Efron, 1979; Koehn, 2004, for NLP):

    $$\Delta^{*}_{b} = \frac{1}{n}\sum_{i=1}^{n}\left(a_{j_{b,i}} - b_{j_{b,i}}\right),\quad
    j_{b,i} \sim \mathrm{Uniform}\{1, \dots, n\}$$

    and the interval is the $\alpha/2$ and $1-\alpha/2$ quantiles of $\Delta^{*}_{1..B}$.

    Args:
        correct_a: ``[n]`` 0/1 scores of model A.
        correct_b: ``[n]`` 0/1 scores of model B on the same items, in the same order.
        num_resamples: $B$.
        alpha: one minus the coverage, in ``(0, 1)``.
        generator: optional RNG for reproducible resamples.

    Returns:
        ``(low, high)`` of accuracy(A) − accuracy(B).
    """
    check(correct_a.shape == correct_b.shape and correct_a.dim() == 1, "need two [n] tensors, paired by item")
    check(0 < alpha < 1, f"alpha must be in (0, 1), got {alpha}")
    n = correct_a.numel()
    diff = correct_a.float() - correct_b.float()
    idx = torch.randint(0, n, (num_resamples, n), generator=generator)
    gaps = diff[idx].mean(dim=1)
    low, high = torch.quantile(gaps, torch.tensor([alpha / 2, 1 - alpha / 2]))
    return low.item(), high.item()


def mcnemar_exact(correct_a: torch.Tensor, correct_b: torch.Tensor) -> tuple[int, int, float]:
    r"""McNemar's test of equal accuracy for paired 0/1 scores, in its exact (binomial) form.

    Only the discordant items count: $b$ = A right and B wrong, $c$ = A wrong and B right. Under the null
    hypothesis each discordant item goes either way with probability 1/2, so (McNemar, 1947)

    $$p = \min\left(1,\ 2\sum_{i=0}^{\min(b, c)} \binom{b+c}{i} 2^{-(b+c)}\right)$$

    The chi-square approximation $(b-c)^2/(b+c)$ with one degree of freedom is close once $b + c$ is large.

    Args:
        correct_a: ``[n]`` 0/1 scores of model A.
        correct_b: ``[n]`` 0/1 scores of model B on the same items.

    Returns:
        ``(b, c, two_sided_p_value)``.
    """
    check(correct_a.shape == correct_b.shape and correct_a.dim() == 1, "need two [n] tensors, paired by item")
    a_right, b_right = correct_a.bool(), correct_b.bool()
    b = int((a_right & ~b_right).sum())
    c = int((~a_right & b_right).sum())
    tail = sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
    return b, c, min(1.0, 2 * tail)


def swap_debiased_verdicts(ab_prefers_first: torch.Tensor, ba_prefers_first: torch.Tensor) -> torch.Tensor:
    r"""Pairwise judge verdicts that count a win only if it survives swapping the answer order.

    Each pair is judged twice, as (A, B) and as (B, A). Following Zheng et al. (2023, arXiv 2306.05685),
    an answer wins only if it is preferred in both orders; a verdict that follows the slot rather than
    the answer is a tie:

    $$v = \begin{cases} +1 & \text{A preferred in both orders} \\ -1 & \text{B preferred in both orders}
    \\ 0 & \text{the judge picked the same slot twice (position bias)} \end{cases}$$

    Args:
        ab_prefers_first: ``[n]`` boolean, the judge preferred the first slot when A was shown first.
        ba_prefers_first: ``[n]`` boolean, the judge preferred the first slot when B was shown first.

    Returns:
        ``[n]`` long tensor of +1 / −1 / 0; ``(v != 0).float().mean()`` is the judge's consistency.
    """
    check(ab_prefers_first.shape == ba_prefers_first.shape, "need one verdict per order for each pair")
    a_wins = ab_prefers_first & ~ba_prefers_first
    b_wins = ~ab_prefers_first & ba_prefers_first
    return a_wins.long() - b_wins.long()

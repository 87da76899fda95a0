r"""Training losses of multimodal models, written out: contrastive (CLIP, SigLIP, InfoNCE), ITM, CE, MSE.

* :func:`clip_loss` is the symmetric image-text contrastive loss of CLIP; :func:`info_nce` is the
  one-directional InfoNCE loss with a MoCo-style queue of negatives (:func:`enqueue`).
* :func:`siglip_loss` replaces CLIP's softmax by one sigmoid per image-text pair;
  :func:`siglip_loss_chunked` computes the same sum block by block, as SigLIP does across devices.
* :func:`sample_hard_negatives` and :func:`itm_loss` are ALBEF/BLIP's image-text matching (ITM) head loss
  with negatives drawn from the contrastive similarities. CLIP does **not** use ITM.
* :func:`mse_loss`, :func:`l1_loss`, :func:`huber_loss` and :func:`cross_entropy` equal their
  ``torch.nn.functional`` counterparts (mean reduction); :func:`stable_log_softmax` is the log-sum-exp
  trick and :func:`cross_entropy_grad` the closed-form gradient $p - y$ of softmax cross-entropy;
  :func:`diffusion_epsilon_loss` is the DDPM noise-prediction objective; :func:`distillation_loss` is
  Hinton et al.'s soft-target loss (LwF in :mod:`mllm_handbook.continual` reuses it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check, check_floating


def _check_pair(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    check_floating(a, name_a)
    check_floating(b, name_b)
    check(
        a.shape == b.shape,
        f"{name_a} and {name_b} must have the same shape, got {list(a.shape)} and {list(b.shape)}",
    )


def contrastive_logits(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: float | torch.Tensor
) -> torch.Tensor:
    r"""CLIP's image-to-text logits: scaled cosine similarities of every image with every text.

    $$S_{ij} = s \cdot \frac{v_i^\top t_j}{\lVert v_i \rVert \, \lVert t_j \rVert}, \quad s = e^{t'} = 1/\tau$$

    Row $i$ scores image $i$ against all texts; the transpose scores each text against all images.

    Args:
        image_features: ``[N, D]`` image embeddings $v$ (any norm; normalised here).
        text_features: ``[N, D]`` text embeddings $t$ of the matching captions, in the same order.
        logit_scale: the multiplier $s$ (already exponentiated, i.e. $1/\tau$); must be positive.

    Returns:
        ``[N, N]`` logits; the diagonal holds the matching pairs.
    """
    check(len(image_features) == len(text_features), "batch sizes differ: text i must caption image i")
    check(logit_scale > 0, f"logit_scale (1/τ, already exponentiated) must be > 0, got {logit_scale}")
    v = F.normalize(image_features, dim=1)
    t = F.normalize(text_features, dim=1)
    return logit_scale * v @ t.T


def clip_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: float | torch.Tensor
) -> torch.Tensor:
    r"""The symmetric contrastive loss of CLIP (Radford et al., 2021, arXiv 2103.00020, Figure 3).

    With $S$ from :func:`contrastive_logits` and the batch of $N$ pairs as the only negatives:

    $$\mathcal{L} = \frac{1}{2N}\sum_{i=1}^{N}\left[-\log\frac{e^{S_{ii}}}{\sum_{j} e^{S_{ij}}}
    -\log\frac{e^{S_{ii}}}{\sum_{j} e^{S_{ji}}}\right]$$

    The first term is image-to-text (softmax over a row), the second text-to-image (over a column). Each
    image has $N-1$ negatives. Same computation as open_clip's ``ClipLoss`` on a single device.

    Args:
        image_features: ``[N, D]`` image embeddings (L2-normalised here).
        text_features: ``[N, D]`` embeddings of the matching texts, in the same order.
        logit_scale: the multiplier $1/\tau$, already exponentiated; CLIP learns $\log(1/\tau)$,
            initialised to $\log(1/0.07)$ and clipped so that the multiplier stays at most 100.

    Returns:
        Scalar loss; $\log N$ when all logits are equal.
    """
    logits = contrastive_logits(image_features, text_features, logit_scale)
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def siglip_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: float | torch.Tensor,
    logit_bias: float | torch.Tensor,
) -> torch.Tensor:
    r"""SigLIP's pairwise sigmoid loss (Zhai et al., 2023, arXiv 2303.15343, Algorithm 1).

    Every image-text pair is its own binary problem, with label $z_{ij} = 1$ for the matching pair
    ($i = j$) and $z_{ij} = -1$ otherwise:

    $$\mathcal{L} = -\frac{1}{N}\sum_{i=1}^{N}\sum_{j=1}^{N}
    \log\sigma\left(z_{ij}\,(t\,\hat v_i^\top \hat t_j + b)\right)$$

    with L2-normalised $\hat v_i, \hat t_j$ and $t = e^{t'}$. The sum runs over all $N^2$ pairs and is
    divided by the batch size $N$, not by $N^2$. No softmax couples the pairs.

    Args:
        image_features: ``[N, D]`` image embeddings (L2-normalised here).
        text_features: ``[N, D]`` embeddings of the matching texts, in the same order.
        logit_scale: $t = e^{t'}$, already exponentiated; SigLIP initialises $t' = \log 10$.
        logit_bias: $b$, learned; SigLIP initialises $b = -10$.

    Returns:
        Scalar loss.
    """
    logits = contrastive_logits(image_features, text_features, logit_scale) + logit_bias
    n = len(logits)
    labels = 2 * torch.eye(n, dtype=logits.dtype, device=logits.device) - 1  # +1 diagonal, -1 elsewhere
    return -F.logsigmoid(labels * logits).sum() / n


def siglip_loss_chunked(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: float | torch.Tensor,
    logit_bias: float | torch.Tensor,
    num_chunks: int,
) -> torch.Tensor:
    r""":func:`siglip_loss` computed block by block, as SigLIP's chunked multi-device implementation.

    Split the batch into $K$ chunks (one per "device"). Device $d$ keeps its images and, at step $s$,
    scores them against the texts of device $(d + s) \bmod K$, which its neighbour passes on; only the
    $s = 0$ block holds positives. The loss is a plain sum of per-pair terms, so the blocks add up to
    exactly the full loss and no device ever needs all $N$ texts at once (no all-gather, no global
    normaliser); each block is at most $\lceil N/K \rceil^2$ logits instead of $N^2$.

    Args:
        image_features: ``[N, D]`` image embeddings.
        text_features: ``[N, D]`` matching text embeddings.
        logit_scale: $t$, already exponentiated.
        logit_bias: $b$.
        num_chunks: $K$, ``1 <= K <= N``; ``N`` need not be divisible by ``K``.

    Returns:
        Scalar loss, equal to :func:`siglip_loss`.
    """
    n = image_features.shape[0]
    check(1 <= num_chunks <= n, f"num_chunks must be in [1, {n}], got {num_chunks}")
    images = image_features.tensor_split(num_chunks)
    texts = text_features.tensor_split(num_chunks)
    total = image_features.new_zeros(())
    for d, img in enumerate(images):
        for s in range(num_chunks):
            txt = texts[(d + s) % num_chunks]  # step s: the texts of device d + s
            logits = logit_scale * F.normalize(img, dim=1) @ F.normalize(txt, dim=1).T + logit_bias
            labels = -torch.ones_like(logits)
            if s == 0:  # the device's own block holds the positives, on its diagonal
                labels.diagonal().fill_(1.0)
            total = total - F.logsigmoid(labels * logits).sum()
    return total / n


def info_nce(
    query: torch.Tensor, positive_key: torch.Tensor, negative_keys: torch.Tensor, temperature: float
) -> torch.Tensor:
    r"""InfoNCE with an explicit set of negatives, e.g. a MoCo queue (Oord et al., 2018; He et al., 2020).

    With L2-normalised $q$, $k^+$ and negatives $k^-_j$:

    $$\mathcal{L} = -\frac{1}{N}\sum_{i=1}^{N}\log\frac{e^{q_i^\top k_i^+/\tau}}
    {e^{q_i^\top k_i^+/\tau} + \sum_{j=1}^{K} e^{q_i^\top k_j^-/\tau}}$$

    This is cross-entropy on the logits ``[l_pos, l_neg] / τ`` with target class 0, as in MoCo's
    Algorithm 1. Every query shares the same $K$ negatives.

    Args:
        query: ``[N, D]`` queries $q$.
        positive_key: ``[N, D]`` the positive key of each query.
        negative_keys: ``[K, D]`` negatives (the queue), ``K >= 1``.
        temperature: $\tau > 0$.

    Returns:
        Scalar loss.
    """
    check(query.shape == positive_key.shape, "query and positive_key must pair up: one positive per query")
    check(len(negative_keys) >= 1, "InfoNCE needs at least one negative key (K >= 1)")
    check(temperature > 0, f"temperature must be > 0, got {temperature}")
    q, k_pos, k_neg = (F.normalize(x, dim=1) for x in (query, positive_key, negative_keys))
    l_pos = (q * k_pos).sum(dim=1, keepdim=True)  # [N, 1]
    l_neg = q @ k_neg.T  # [N, K]
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


def enqueue(queue: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    r"""MoCo's first-in-first-out queue update: the newest keys in front, the oldest dropped.

    Args:
        queue: ``[K, D]`` current negatives.
        keys: ``[N, D]`` this batch's keys (from the momentum encoder, no gradient), ``N <= K``.

    Returns:
        ``[K, D]``: ``keys`` followed by the first ``K - N`` rows of ``queue``.
    """
    check(len(keys) <= len(queue), f"cannot enqueue {len(keys)} keys into a queue of {len(queue)}")
    return torch.cat([keys.detach(), queue], dim=0)[: len(queue)]


def sample_hard_negatives(similarity: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""For each row, draw one negative column with probability $\propto$ softmax of its similarity.

    ALBEF (Li et al., 2021, arXiv 2107.07651, §3.2) picks ITM negatives this way from the contrastive
    similarities, so harder (more similar) negatives are chosen more often; the positive (the diagonal) gets
    weight 0 and is never chosen:

    $$P(j \mid i) = \frac{e^{S_{ij}}}{\sum_{k \ne i} e^{S_{ik}}} \text{ for } j \ne i, \quad P(i \mid i) = 0$$

    Args:
        similarity: ``[N, N]`` logits, ``N >= 2``; row i's positive is column i.
        generator: optional ``torch.Generator`` for reproducible draws.

    Returns:
        ``[N]`` long tensor of column indices, never equal to the row index.
    """
    check(len(similarity) >= 2, "need N >= 2: the negatives of row i are the other N - 1 columns")
    eye = torch.eye(len(similarity), dtype=torch.bool, device=similarity.device)
    weights = torch.softmax(similarity.masked_fill(eye, float("-inf")), dim=1)
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def itm_loss(match_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Image-text matching loss: binary cross-entropy of a 2-way head (UNITER, ALBEF, BLIP).

    With $p_i$ the predicted probability that pair $i$ matches and $y_i \in \{0, 1\}$:

    $$\mathcal{L}_{\mathrm{ITM}} = -\frac{1}{M}\sum_{i=1}^{M}\left[y_i \log p_i + (1 - y_i)\log(1 - p_i)\right]$$

    Note the leading minus sign: without it, minimising the loss would push the correct class's
    probability to 0.

    Args:
        match_logits: ``[M, 2]`` logits for (not matched, matched).
        labels: ``[M]`` long, 1 for a matching pair, 0 otherwise.

    Returns:
        Scalar loss.
    """
    check(match_logits.shape[1] == 2, "match_logits must be [M, 2]: (not matched, matched)")
    check(bool(((labels == 0) | (labels == 1)).all()), "labels must be 0 (no match) or 1 (match)")
    log_p = torch.log_softmax(match_logits, dim=1)
    return -log_p.gather(1, labels.long().unsqueeze(1)).mean()


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error, averaged over **every element** (as ``F.mse_loss``).

    $$\mathrm{MSE} = \frac{1}{n}\sum_{i=1}^{n} (y_i - \hat{y}_i)^2$$

    Here $n$ is the number of elements, not the number of samples: for ``[B, D]`` it is $B \cdot D$.

    Args:
        pred: predictions $\hat{y}$, any shape.
        target: targets $y$, same shape.

    Returns:
        Scalar loss.
    """
    _check_pair(pred, target, "pred", "target")
    return (pred - target).pow(2).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Mean absolute error (L1), averaged over every element (as ``F.l1_loss``).

    $$\mathrm{MAE} = \frac{1}{n}\sum_{i=1}^{n} \lvert y_i - \hat{y}_i \rvert$$

    Args:
        pred: predictions, any shape.
        target: targets, same shape.

    Returns:
        Scalar loss.
    """
    _check_pair(pred, target, "pred", "target")
    return (pred - target).abs().mean()


def huber_loss(pred: torch.Tensor, target: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    r"""Huber loss: quadratic for small errors, linear for large ones (as ``F.huber_loss``).

    With $e = y - \hat{y}$, averaged over every element:

    $$\ell_\delta(e) = \frac{1}{2}e^2 \text{ if } \lvert e \rvert \le \delta, \text{ else }
    \delta\left(\lvert e \rvert - \frac{1}{2}\delta\right)$$

    Args:
        pred: predictions, any shape.
        target: targets, same shape.
        delta: the threshold $\delta > 0$ between the two regimes.

    Returns:
        Scalar loss.
    """
    _check_pair(pred, target, "pred", "target")
    check(delta > 0, f"delta must be > 0, got {delta}")
    err = (pred - target).abs()
    return torch.where(err <= delta, 0.5 * err.pow(2), delta * (err - 0.5 * delta)).mean()


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0, ignore_index: int = -100
) -> torch.Tensor:
    r"""Cross-entropy with label smoothing and ignored positions (as ``F.cross_entropy``, mean reduction).

    For $C$ classes and smoothing $\varepsilon$ (Szegedy et al., 2016), per position:

    $$\ell = -(1-\varepsilon)\log p_y - \frac{\varepsilon}{C}\sum_{c=1}^{C}\log p_c$$

    averaged over the positions whose target is not ``ignore_index`` (e.g. padding, prompt tokens).

    Args:
        logits: ``[M, C]`` unnormalised scores.
        target: ``[M]`` long class ids, or ``ignore_index``.
        label_smoothing: $\varepsilon \in [0, 1]$.
        ignore_index: target value whose positions are skipped.

    Returns:
        Scalar loss.
    """
    check_floating(logits, "logits")
    check(logits.dim() == 2, f"logits must be [M, C], got {list(logits.shape)}")
    check(target.shape == logits.shape[:1], f"target must be [{len(logits)}], got {list(target.shape)}")
    check(0.0 <= label_smoothing <= 1.0, f"label_smoothing must be in [0, 1], got {label_smoothing}")
    keep = target != ignore_index
    check(bool(keep.any()), "every target equals ignore_index: nothing to average")
    log_p = torch.log_softmax(logits[keep], dim=1)
    nll = -log_p[torch.arange(len(log_p)), target[keep]]  # log-probability of each target class
    smooth = -log_p.mean(dim=1)
    return ((1 - label_smoothing) * nll + label_smoothing * smooth).mean()


def stable_log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Log-softmax with the log-sum-exp trick: subtract the maximum before exponentiating.

    With $m = \max_j z_j$:

    $$\log\mathrm{softmax}(z)_i = z_i - m - \log\sum_j e^{z_j - m}$$

    The shift cancels mathematically, but the largest exponent becomes $e^0 = 1$: nothing overflows,
    and the sum is at least 1, so its log is finite. The naive $e^{z_i}/\sum_j e^{z_j}$ overflows to
    ``inf / inf = nan`` once a logit exceeds $\ln(\text{max float})$ (about 88.72 in float32, 11.09 in
    float16). See Goodfellow et al., *Deep Learning* (2016), §4.1.

    Args:
        logits: unnormalised scores $z$, any shape.
        dim: the dimension to normalise over.

    Returns:
        Log-probabilities, same shape as ``logits`` (as ``torch.log_softmax``).
    """
    check_floating(logits, "logits")
    shifted = logits - logits.amax(dim=dim, keepdim=True).detach()  # the shift cancels: no gradient needed
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy_grad(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    r"""Gradient of the mean softmax cross-entropy with respect to the logits, in closed form.

    With $p = \mathrm{softmax}(z)$ and the target distribution $q$ (one-hot $y$, or
    $q = (1-\varepsilon)\,y + \varepsilon/C$ with label smoothing), $\ell = -\sum_c q_c \log p_c$ and
    $\log p_c = z_c - \log\sum_k e^{z_k}$ give, because $\sum_c q_c = 1$:

    $$\frac{\partial \ell}{\partial z_c} = p_c - q_c$$

    Averaging over the $M$ rows divides by $M$. Each row of the gradient sums to 0.

    Args:
        logits: ``[M, C]`` unnormalised scores.
        target: ``[M]`` long class ids in ``[0, C)``.
        label_smoothing: $\varepsilon \in [0, 1]$.

    Returns:
        ``[M, C]`` gradient of :func:`cross_entropy` (no ignored positions) with respect to ``logits``.
    """
    check(0.0 <= label_smoothing <= 1.0, f"label_smoothing must be in [0, 1], got {label_smoothing}")
    num_rows, num_classes = logits.shape
    one_hot = F.one_hot(target, num_classes).to(logits.dtype)
    q = (1 - label_smoothing) * one_hot + label_smoothing / num_classes
    p = stable_log_softmax(logits).exp()
    return (p - q) / num_rows


def diffusion_epsilon_loss(
    eps_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    t: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    r"""DDPM's simplified objective: predict the noise that was added (Ho et al., 2020, arXiv 2006.11239).

    $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \epsilon, \quad
    \mathcal{L}_{\mathrm{simple}} = \mathbb{E}\left[\lVert \epsilon - \epsilon_\theta(x_t, t) \rVert^2\right]$$

    The norm is averaged over elements, as :func:`mse_loss`.

    Args:
        eps_model: callable ``(x_t, t) -> predicted noise`` with the shape of ``x0``.
        x0: ``[B, ...]`` clean samples (e.g. image latents).
        t: ``[B]`` long timesteps, indices into ``alphas_cumprod``.
        alphas_cumprod: ``[T]`` the schedule $\bar\alpha_t$, values in $(0, 1]$.
        noise: $\epsilon$, same shape as ``x0`` (standard normal in training).

    Returns:
        Scalar loss.
    """
    check(bool(((t >= 0) & (t < len(alphas_cumprod))).all()), f"t must be in [0, {len(alphas_cumprod)})")
    alpha_bar = alphas_cumprod[t].reshape(-1, *([1] * (x0.dim() - 1)))
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    return mse_loss(eps_model(x_t, t), noise)


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    r"""Soft-target distillation loss, batch mean (Hinton et al., 2015).

    $$\mathcal{L}_{\mathrm{KD}} = T^2\,\mathrm{KL}\left(\mathrm{softmax}(t/T) \,\|\, \mathrm{softmax}(s/T)\right)$$

    The factor $T^2$ keeps the gradient's size roughly independent of $T$ (the soft-target gradients
    scale as $1/T^2$).

    Args:
        student_logits: ``[batch, classes]``.
        teacher_logits: ``[batch, classes]`` (no gradient flows into the teacher).
        temperature: $T > 0$.

    Returns:
        Scalar loss.
    """
    check(temperature > 0, f"temperature must be > 0, got {temperature}")
    log_q = (student_logits / temperature).log_softmax(1)
    log_p = (teacher_logits.detach() / temperature).log_softmax(1)
    kl = (log_p.exp() * (log_p - log_q)).sum(1)
    return temperature**2 * kl.mean()

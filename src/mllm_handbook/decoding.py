r"""Turning next-token logits into text: greedy, beam search, sampling warpers, and contrastive decoding.

* Search: :func:`greedy_decode` takes the argmax at every step; :func:`beam_search` keeps the
  ``beam_width`` best prefixes by summed log-probability.
* Sampling: :func:`sample_next_token` divides the logits by a temperature, optionally keeps the top-k
  (Fan et al., 2018) or the top-p nucleus (Holtzman et al., 2020), and samples.
* :func:`repetition_penalty` is the CTRL rule (Keskar et al., 2019) that discourages repeating tokens.
* :func:`contrastive_decoding_logits` is visual contrastive decoding (Leng et al., 2024, arXiv 2311.16922),
  a decoding-time hallucination mitigation: the model is run on the real image and on a distorted one, and
  tokens that stay likely without clear visual evidence (language priors) are down-weighted.

Warpers take logits ``[..., vocab]`` and return logits of the same shape with removed tokens set to
``-inf``, so they compose and a final softmax renormalises over the kept tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from mllm_handbook._checks import check


def temperature_softmax(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""Next-token probabilities at temperature $T$.

    $$p_i = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)}$$

    $T < 1$ sharpens the distribution and $T \to 0$ puts all mass on the argmax (greedy decoding);
    $T > 1$ flattens it towards uniform. The ranking of tokens never changes.

    Args:
        logits: ``[..., vocab]`` next-token logits $z$.
        temperature: $T > 0$.

    Returns:
        ``[..., vocab]`` probabilities.
    """
    check(temperature > 0, f"temperature must be > 0, got {temperature}")
    return torch.softmax(logits / temperature, dim=-1)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    r"""Keep the $k$ largest logits of each row, set the others to $-\infty$ (Fan et al., 2018).

    $$\tilde z_i = z_i \ \text{if } i \in \operatorname{top-}k(z), \qquad \tilde z_i = -\infty \ \text{otherwise}$$

    Exactly $\min(k, V)$ tokens survive: ties at the $k$-th value go to the lower token id (a stable
    sort), so ``k = 1`` is the argmax. (Hugging Face's ``TopKLogitsWarper`` keeps every tied token instead.)

    Args:
        logits: ``[..., vocab]`` next-token logits.
        k: number of tokens to keep, $k \ge 1$; $k \ge V$ keeps all.

    Returns:
        ``[..., vocab]`` filtered logits.
    """
    check(k >= 1, f"k must be >= 1, got {k}")
    order = logits.sort(dim=-1, descending=True, stable=True).indices[..., :k]
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    r"""Nucleus (top-p) filter: keep the smallest set of most likely tokens whose mass reaches $p$.

    Holtzman et al. (2020, arXiv 1904.09751), eq. 2: the nucleus $V^{(p)}$ is the smallest set with

    $$\sum_{x \in V^{(p)}} P(x \mid x_{1:i-1}) \ge p$$

    Sort the probabilities in decreasing order; token $j$ (in sorted order) is kept iff the mass strictly
    before it is below $p$, $\sum_{i<j} p_{(i)} < p$. So the most likely token is always kept, and when the
    mass reaches $p$ exactly at token $j$, token $j$ is the last one kept. Ties go to the lower token id.

    Args:
        logits: ``[..., vocab]`` next-token logits.
        p: target mass, $0 < p \le 1$; ``p = 1`` keeps every token.

    Returns:
        ``[..., vocab]`` filtered logits.
    """
    check(0 < p <= 1, f"p must be in (0, 1], got {p}")
    if p == 1:
        return logits
    sorted_probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True, stable=True)
    cumulative = sorted_probs.cumsum(dim=-1)
    mass_before = torch.cat([torch.zeros_like(cumulative[..., :1]), cumulative[..., :-1]], dim=-1)
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, mass_before < p)
    return logits.masked_fill(~keep, float("-inf"))


def repetition_penalty(logits: torch.Tensor, previous_tokens: torch.Tensor, penalty: float) -> torch.Tensor:
    r"""CTRL-style repetition penalty (Keskar et al., 2019, arXiv 1909.05858, §4.1) on seen tokens.

    $$\tilde z_i = \begin{cases} z_i / \theta & i \in g,\ z_i > 0 \\ z_i \cdot \theta & i \in g,\ z_i \le 0
    \\ z_i & i \notin g \end{cases}$$

    where $g$ is the set of previously generated tokens and $\theta$ the penalty. CTRL's paper divides the
    logit of every seen token by $\theta$; for a negative logit that would *raise* it, so implementations
    (e.g. Hugging Face's ``RepetitionPenaltyLogitsProcessor``) multiply negative logits instead. A token
    that occurs several times in ``previous_tokens`` is penalised once. $\theta = 1$ is the identity.

    Args:
        logits: ``[..., vocab]`` next-token logits.
        previous_tokens: ``[..., seq]`` long tensor of token ids already in the context (per row).
        penalty: $\theta > 0$; values above 1 discourage repetition.

    Returns:
        ``[..., vocab]`` penalised logits.
    """
    check(penalty > 0, f"penalty must be > 0, got {penalty}")
    seen = logits.gather(-1, previous_tokens)
    penalised = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, previous_tokens, penalised)


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sample one token per row: temperature, then top-k, then top-p, then a categorical draw.

    $$x \sim \mathrm{softmax}\big(\mathrm{top\text{-}p}(\mathrm{top\text{-}k}(z / T))\big)$$

    This is the order Hugging Face's ``generate`` applies them in, so the nucleus is computed on the
    tempered distribution. ``temperature = 0`` means greedy: the argmax, with no randomness.

    Args:
        logits: ``[vocab]`` or ``[batch, vocab]`` next-token logits.
        temperature: $T \ge 0$.
        top_k: keep the ``top_k`` largest logits (``None``: no top-k).
        top_p: keep the nucleus of mass ``top_p`` (``None``: no top-p).
        generator: random generator for reproducible draws.

    Returns:
        ``[]`` or ``[batch]`` long tensor of token ids.
    """
    check(temperature >= 0, f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1).reshape(-1, logits.shape[-1])
    return torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:-1])


def greedy_decode(
    next_log_probs: Callable[[list[int]], torch.Tensor], prefix: Sequence[int], num_steps: int
) -> tuple[list[int], float]:
    r"""Append the most likely next token ``num_steps`` times.

    $$x_t = \arg\max_x \log p(x \mid x_{<t}),\qquad \text{score} = \sum_t \log p(x_t \mid x_{<t})$$

    Args:
        next_log_probs: maps a token list to ``[vocab]`` log-probabilities of the next token.
        prefix: the prompt's token ids.
        num_steps: tokens to generate.

    Returns:
        ``(tokens, score)``: the prefix plus the generated tokens, and the generated tokens' summed log-prob.
    """
    tokens, score = list(prefix), 0.0
    for _ in range(num_steps):
        log_p = next_log_probs(tokens)
        best = int(log_p.argmax())
        tokens.append(best)
        score += float(log_p[best])
    return tokens, score


def beam_search(
    next_log_probs: Callable[[list[int]], torch.Tensor],
    prefix: Sequence[int],
    num_steps: int,
    beam_width: int,
) -> tuple[list[int], float]:
    r"""Fixed-length beam search: keep the ``beam_width`` prefixes with the highest summed log-probability.

    At each step every beam is extended by its ``beam_width`` best tokens and the best ``beam_width`` of
    all candidates survive, ranked by

    $$\text{score}(x_{1:t}) = \sum_{s \le t} \log p(x_s \mid x_{<s})$$

    ``beam_width = 1`` is greedy decoding; a beam as wide as every sequence is exact search. Stopping at
    an end-of-sequence token and length normalisation (Wu et al., 2016) are left out.

    Args:
        next_log_probs: maps a token list to ``[vocab]`` log-probabilities of the next token.
        prefix: the prompt's token ids.
        num_steps: tokens to generate.
        beam_width: number of beams, $\ge 1$.

    Returns:
        ``(tokens, score)`` of the best beam, as in :func:`greedy_decode`.
    """
    check(beam_width >= 1, f"beam_width must be >= 1, got {beam_width}")
    beams = [(list(prefix), 0.0)]
    for _ in range(num_steps):
        candidates = []
        for tokens, score in beams:
            log_p = next_log_probs(tokens)
            top = log_p.topk(min(beam_width, log_p.numel()))
            for token in top.indices.tolist():
                candidates.append(([*tokens, token], score + float(log_p[token])))
        beams = sorted(candidates, key=lambda c: c[1], reverse=True)[:beam_width]
    return beams[0]


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
    check(alpha >= 0, f"alpha must be >= 0, got {alpha}")
    check(0 < beta <= 1, f"beta must be in (0, 1], got {beta}")
    log_probs = torch.log_softmax(logits, dim=-1)
    cutoff = math.log(beta) + log_probs.max(dim=-1, keepdim=True).values
    contrasted = (1 + alpha) * logits - alpha * distorted_logits
    return contrasted.masked_fill(log_probs < cutoff, float("-inf"))

r"""Speculative decoding: a cheap draft model proposes, the target model verifies, the output law is the target's.

Leviathan, Kalman and Matias (2023, ICML; arXiv 2211.17192) and, concurrently, Chen et al. (2023,
arXiv 2302.01318, "speculative sampling"). Notation as in Leviathan et al.: $p$ is the target model's
next-token distribution, $q$ the draft model's, $\gamma$ the number of draft tokens per target call and $c$
the cost of one draft call relative to one target call.

A draft token $x \sim q$ is accepted with probability $\min(1, p(x)/q(x))$; on rejection a token is drawn
from the residual $\mathrm{norm}(\max(0, p - q))$. The two branches together give exactly $p$.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mllm_handbook._checks import check


def acceptance_rate(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r"""Probability that a draft token is accepted, $\beta = \sum_x \min(p(x), q(x))$.

    $$\beta = \sum_x q(x) \min\left(1, \frac{p(x)}{q(x)}\right) = \sum_x \min(p(x), q(x))
    = 1 - \mathrm{TV}(p, q)$$

    Leviathan et al. (2023, §3.3) call its expectation over contexts $\alpha$.

    Args:
        p: ``[..., vocab]`` target distribution.
        q: ``[..., vocab]`` draft distribution.

    Returns:
        ``[...]`` acceptance probabilities.
    """
    return torch.minimum(p, q).sum(-1)


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r"""The distribution to resample from after a rejection, $\mathrm{norm}(\max(0, p - q))$.

    $$r(x) = \frac{\max(0, p(x) - q(x))}{\sum_{x'} \max(0, p(x') - q(x'))}$$

    The normaliser equals $1 - \beta$. When $p = q$ nothing is ever rejected and $p$ is returned.

    Args:
        p: ``[..., vocab]`` target distribution.
        q: ``[..., vocab]`` draft distribution.

    Returns:
        ``[..., vocab]`` residual distribution.
    """
    excess = (p - q).clamp(min=0)
    total = excess.sum(-1, keepdim=True)
    return torch.where(total > 0, excess / total.clamp(min=torch.finfo(p.dtype).tiny), p)


def speculative_output_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r"""Law of the token one accept/resample step emits: accepted draft tokens plus resampled ones.

    $$P(x) = \underbrace{q(x)\min\left(1, \tfrac{p(x)}{q(x)}\right)}_{\min(p(x), q(x))}
    + (1 - \beta)\, r(x) = \min(p, q) + \max(0, p - q) = p(x)$$

    Args:
        p: ``[..., vocab]`` target distribution.
        q: ``[..., vocab]`` draft distribution.

    Returns:
        ``[..., vocab]``, equal to ``p``.
    """
    beta = acceptance_rate(p, q).unsqueeze(-1)
    return torch.minimum(p, q) + (1 - beta) * residual_distribution(p, q)


def speculative_sample(
    p: torch.Tensor, q: torch.Tensor, num_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""``num_samples`` independent single-token speculative samples (for a Monte Carlo check).

    Draw $x \sim q$ and $u \sim U(0, 1)$; keep $x$ if $u\,q(x) < p(x)$, else draw from the residual.

    Args:
        p: ``[vocab]`` target distribution.
        q: ``[vocab]`` draft distribution.
        num_samples: number of samples.
        generator: random generator.

    Returns:
        ``[num_samples]`` token ids, distributed as ``p``.
    """
    drafts = torch.multinomial(q, num_samples, replacement=True, generator=generator)
    u = torch.rand(num_samples, generator=generator, dtype=p.dtype)
    resampled = torch.multinomial(
        residual_distribution(p, q), num_samples, replacement=True, generator=generator
    )
    return torch.where(u * q[drafts] < p[drafts], drafts, resampled)


def speculative_step(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Verify $\gamma$ draft tokens with one target call (Leviathan et al., 2023, Alg. 1; arXiv 2211.17192).

    Draft token $x_i$ is accepted if $u_i < p_i(x_i) / q_i(x_i)$, $u_i \sim U(0, 1)$. At the first
    rejection $n$ the next token is drawn from $\mathrm{norm}(\max(0, p_n - q_n))$; if all $\gamma$ are
    accepted, a bonus token is drawn from $p_{\gamma+1}$ (the residual with $q_{\gamma+1} = 0$). So one
    call emits $n + 1$ tokens, between 1 and $\gamma + 1$.

    Args:
        target_probs: ``[..., gamma + 1, vocab]``, $p_i$ at each draft position and the one after them.
        draft_probs: ``[..., gamma, vocab]``, the $q_i$ the draft tokens were sampled from.
        draft_tokens: ``[..., gamma]`` token ids, $x_i \sim q_i$.
        generator: random generator.

    Returns:
        ``(n, next_token)``, each ``[...]``: emit ``draft_tokens[:n]``, then ``next_token``.
    """
    gamma, vocab = draft_tokens.shape[-1], target_probs.shape[-1]
    check(target_probs.shape[-2] == gamma + 1, "target_probs needs gamma + 1 rows: one per draft token + one")
    p_x = target_probs[..., :-1, :].gather(-1, draft_tokens.unsqueeze(-1)).squeeze(-1)
    q_x = draft_probs.gather(-1, draft_tokens.unsqueeze(-1)).squeeze(-1)
    u = torch.rand(draft_tokens.shape, generator=generator, dtype=target_probs.dtype)
    n = (u * q_x < p_x).long().cumprod(-1).sum(-1)  # accepted prefix: stop at the first rejection
    q_padded = torch.cat([draft_probs, torch.zeros_like(target_probs[..., :1, :])], dim=-2)
    rows = residual_distribution(target_probs, q_padded)  # row gamma is p_{gamma+1} itself
    last = rows.gather(-2, n[..., None, None].expand(*n.shape, 1, vocab)).reshape(-1, vocab)
    return n, torch.multinomial(last, 1, generator=generator).reshape(n.shape)


def speculative_generate(
    target: Callable[[torch.Tensor], torch.Tensor],
    draft: Callable[[torch.Tensor], torch.Tensor],
    prefix: torch.Tensor,
    max_new_tokens: int,
    gamma: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, int]:
    r"""Speculative decoding loop: $\gamma$ draft steps, then one target call that verifies them.

    A model maps tokens ``[T]`` to next-token distributions ``[T, vocab]`` (row $t$ conditions on
    tokens $0..t$), so one target call scores all $\gamma + 1$ positions at once.

    Args:
        target: the large model $M_p$.
        draft: the small model $M_q$.
        prefix: ``[T0]`` prompt token ids.
        max_new_tokens: tokens to generate.
        gamma: draft tokens per target call, $\gamma \ge 1$.
        generator: random generator.

    Returns:
        ``(tokens, target_calls)``: ``[T0 + max_new_tokens]`` ids and the number of target calls.
    """
    check(gamma >= 1, f"gamma must be >= 1, got {gamma}")
    check(prefix.numel() >= 1, "the prefix needs at least one token (e.g. BOS) to condition on")
    tokens, calls = prefix.clone(), 0
    while tokens.shape[0] < prefix.shape[0] + max_new_tokens:
        context, qs = tokens, []
        for _ in range(gamma):
            qs.append(draft(context)[-1])
            context = torch.cat([context, torch.multinomial(qs[-1], 1, generator=generator)])
        p = target(context)[tokens.shape[0] - 1 :]  # [gamma + 1, vocab], one call
        calls += 1
        drafted = context[tokens.shape[0] :]
        n, next_token = speculative_step(p, torch.stack(qs), drafted, generator)
        tokens = torch.cat([tokens, drafted[:n], next_token.reshape(1)])
    return tokens[: prefix.shape[0] + max_new_tokens], calls


def expected_tokens_per_call(alpha: float, gamma: int) -> float:
    r"""Expected tokens one target call emits (Leviathan et al., 2023, eq. 1).

    With i.i.d. acceptances of probability $\alpha$, the accepted prefix is a truncated geometric variable:

    $$\mathbb{E}[\text{tokens}] = \sum_{k=0}^{\gamma} \alpha^k = \frac{1 - \alpha^{\gamma + 1}}{1 - \alpha}$$

    Args:
        alpha: acceptance rate $\alpha \in [0, 1]$.
        gamma: draft tokens per call, $\gamma \ge 1$.

    Returns:
        Expected tokens, between 1 and $\gamma + 1$.
    """
    check(0 <= alpha <= 1, f"alpha must be in [0, 1], got {alpha}")
    check(gamma >= 1, f"gamma must be >= 1, got {gamma}")
    return float(gamma + 1) if alpha == 1 else (1 - alpha ** (gamma + 1)) / (1 - alpha)


def expected_speedup(alpha: float, gamma: int, c: float) -> float:
    r"""Expected wall-time speed-up over plain decoding (Leviathan et al., 2023, Theorem 3.8).

    One iteration costs $\gamma$ draft calls and one target call, $\gamma c + 1$ target-call times, and
    emits $(1 - \alpha^{\gamma+1})/(1 - \alpha)$ tokens:

    $$S = \frac{1 - \alpha^{\gamma + 1}}{(1 - \alpha)(\gamma c + 1)}$$

    It assumes a target call on $\gamma + 1$ tokens takes as long as on one (decoding is memory-bound).

    Args:
        alpha: acceptance rate $\alpha$.
        gamma: draft tokens per call $\gamma$.
        c: cost of a draft call relative to a target call, $c \ge 0$.

    Returns:
        The speed-up factor (below 1 means slower).
    """
    check(c >= 0, f"c must be >= 0, got {c}")
    return expected_tokens_per_call(alpha, gamma) / (gamma * c + 1)

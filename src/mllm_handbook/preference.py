r"""Preference optimisation written out: the DPO loss, its implicit reward, and PPO's clipped surrogate.

* DPO (Direct **Preference** Optimization, Rafailov et al., 2023) trains the policy directly on preference
  pairs with a logistic loss on **log-ratios against a frozen reference policy**; no reward model, no sampling.
* PPO (Proximal Policy Optimization, Schulman et al., 2017) is the on-policy RL algorithm used in RLHF; its
  clipped surrogate keeps each update close to the policy that generated the samples.

Log-probabilities here are **sequence** log-probabilities: the sum of the token log-probs of a response
(see :func:`sequence_logps`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check, check_floating


def _check_same_shape(tensors: dict[str, torch.Tensor]) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    check(len(set(shapes.values())) == 1, f"inputs must all have the same shape, got {shapes}")
    for name, t in tensors.items():
        check_floating(t, name)


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    r"""Sum of next-token log-probabilities of the labelled tokens of each sequence.

    $$\log \pi(y \mid x) = \sum_{t} \log \pi(y_t \mid x, y_{<t})$$

    Logits at position $t$ predict the token at $t+1$ (the usual shift); labels equal to ``ignore_index``
    (the prompt, padding) are left out of the sum.

    Args:
        logits: ``[batch, seq, vocab]`` model outputs.
        labels: ``[batch, seq]`` token ids, ``ignore_index`` where not scored.
        ignore_index: label value that is skipped.

    Returns:
        ``[batch]`` sequence log-probabilities.
    """
    check_floating(logits, "logits")
    check(logits.dim() == 3 and labels.shape == logits.shape[:2], "need logits [B, T, V] and labels [B, T]")
    logits, labels = logits[:, :-1], labels[:, 1:]
    keep = labels != ignore_index
    token_logps = torch.gather(logits.log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (token_logps * keep).sum(-1)


def dpo_implicit_reward(
    policy_logps: torch.Tensor, reference_logps: torch.Tensor, beta: float = 0.1
) -> torch.Tensor:
    r"""The reward DPO implicitly assigns to a response (Rafailov et al., 2023, §5).

    $$\hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)}$$

    Args:
        policy_logps: ``[batch]`` $\log \pi_\theta(y \mid x)$.
        reference_logps: ``[batch]`` $\log \pi_{\mathrm{ref}}(y \mid x)$.
        beta: strength $\beta$ of the implicit KL constraint.

    Returns:
        ``[batch]`` implicit rewards.
    """
    _check_same_shape({"policy_logps": policy_logps, "reference_logps": reference_logps})
    return beta * (policy_logps - reference_logps)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    reference_chosen_logps: torch.Tensor,
    reference_rejected_logps: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    r"""Sigmoid DPO loss, mean over the batch (Rafailov et al., 2023, eq. 7; arXiv 2305.18290).

    $$\mathcal{L}_{\mathrm{DPO}} = -\log \sigma\left(\beta \log \frac{\pi_\theta(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)}
    - \beta \log \frac{\pi_\theta(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)}\right)$$

    When the policy equals the reference both log-ratios are 0 and the loss is $\log 2$.

    Args:
        policy_chosen_logps: ``[batch]`` $\log \pi_\theta(y_w \mid x)$ of the preferred responses.
        policy_rejected_logps: ``[batch]`` $\log \pi_\theta(y_l \mid x)$ of the dispreferred responses.
        reference_chosen_logps: ``[batch]`` the same under the frozen reference policy.
        reference_rejected_logps: ``[batch]`` the same under the frozen reference policy.
        beta: $\beta > 0$; larger keeps the policy closer to the reference.

    Returns:
        Scalar loss.
    """
    check(beta > 0, f"beta must be > 0, got {beta}")
    chosen = dpo_implicit_reward(policy_chosen_logps, reference_chosen_logps, beta)
    rejected = dpo_implicit_reward(policy_rejected_logps, reference_rejected_logps, beta)
    check(chosen.shape == rejected.shape, "chosen and rejected inputs must have the same shape")
    return -F.logsigmoid(chosen - rejected).mean()


def ppo_clip_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: float = 0.2,
) -> torch.Tensor:
    r"""PPO's clipped surrogate, negated to be a loss, mean over samples (Schulman et al., 2017, eq. 7).

    $$r_t = \exp(\log \pi_\theta(a_t \mid s_t) - \log \pi_{\theta_{\mathrm{old}}}(a_t \mid s_t))$$

    $$\mathcal{L}^{\mathrm{CLIP}} = -\mathbb{E}_t\left[\min\left(r_t A_t,
    \mathrm{clip}(r_t, 1-\epsilon, 1+\epsilon) A_t\right)\right]$$

    The minimum makes the objective a pessimistic bound: with $A_t > 0$ it stops rewarding $r_t > 1+\epsilon$,
    with $A_t < 0$ it stops rewarding $r_t < 1-\epsilon$; moves in the harmful direction are never clipped.

    Args:
        logprobs: ``[...]`` log-probs of the taken actions (tokens) under the current policy.
        old_logprobs: ``[...]`` the same under the policy that sampled them (no gradient).
        advantages: ``[...]`` advantage estimates $A_t$.
        clip_range: $\epsilon$, in ``(0, 1)``.

    Returns:
        Scalar loss.
    """
    _check_same_shape({"logprobs": logprobs, "old_logprobs": old_logprobs, "advantages": advantages})
    check(0 < clip_range < 1, f"clip_range must be in (0, 1), got {clip_range}")
    ratio = torch.exp(logprobs - old_logprobs.detach())
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range) * advantages
    return -torch.minimum(unclipped, clipped).mean()

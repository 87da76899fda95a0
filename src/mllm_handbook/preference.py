r"""Preference optimisation and RL for LLMs written out: reward models, DPO, PPO's clipped surrogate, GRPO.

* Reward model (Ouyang et al., 2022): a scalar score trained on human comparisons with the Bradley–Terry
  loss $-\log \sigma(r_w - r_l)$; only reward **differences** are identified.
* DPO (Direct **Preference** Optimization, Rafailov et al., 2023) trains the policy directly on preference
  pairs with a logistic loss on **log-ratios against a frozen reference policy**; no reward model, no sampling.
* PPO (Proximal Policy Optimization, Schulman et al., 2017) is the on-policy RL algorithm used in RLHF; its
  clipped surrogate keeps each update close to the policy that generated the samples, and its per-token
  advantages come from a value model through GAE (Schulman et al., 2016).
* GRPO (Shao et al., 2024) drops PPO's value model: the baseline is the mean reward of a group of responses
  to the same prompt, and the KL to the reference policy is a term of the loss, not of the reward.

Log-probabilities are **sequence** log-probabilities (the sum over a response's tokens, see
:func:`sequence_logps`) for DPO and reward models, and **per-token** log-probabilities for PPO and GRPO.
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
    return (token_logps * keep).sum(dim=1)


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
    return -clipped_surrogate(ratio, advantages, clip_range, clip_range).mean()


def clipped_surrogate(
    ratio: torch.Tensor, advantages: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.2
) -> torch.Tensor:
    r"""PPO's clipped objective per element, with separate lower and upper clip ranges (to be maximised).

    $$\min\left(r A,\ \mathrm{clip}(r, 1-\epsilon_{\mathrm{low}}, 1+\epsilon_{\mathrm{high}}) A\right)$$

    $\epsilon_{\mathrm{low}} = \epsilon_{\mathrm{high}}$ is PPO (Schulman et al., 2017, eq. 7);
    $\epsilon_{\mathrm{high}} > \epsilon_{\mathrm{low}}$ is DAPO's clip-higher (Yu et al., 2025, arXiv 2503.14476),
    which leaves more room to raise the probability of unlikely tokens that earned a positive advantage.

    Args:
        ratio: ``[...]`` importance ratios $\pi_\theta / \pi_{\theta_{\mathrm{old}}}$.
        advantages: advantages broadcastable to ``ratio``.
        clip_low: $\epsilon_{\mathrm{low}}$, in ``(0, 1)``.
        clip_high: $\epsilon_{\mathrm{high}} > 0$.

    Returns:
        ``[...]`` per-element objective.
    """
    check(0 < clip_low < 1 and clip_high > 0, "the clip ranges need 0 < clip_low < 1 and clip_high > 0")
    return torch.minimum(ratio * advantages, ratio.clamp(1 - clip_low, 1 + clip_high) * advantages)


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> torch.Tensor:
    r"""Generalized advantage estimation over a response's tokens.

    Schulman et al. (2016, arXiv 1506.02438), eqs. 10 and 16:

    $$\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t), \qquad
    \hat A_t = \sum_{l \ge 0} (\gamma\lambda)^l \delta_{t+l}$$

    computed backwards as $\hat A_t = \delta_t + \gamma\lambda \hat A_{t+1}$.
    The response ends after its last token, so $V(s_T) = 0$. $\lambda = 0$
    gives the one-step TD error $\delta_t$; $\lambda = 1$ gives the return
    minus the value, $\sum_{l} \gamma^l r_{t+l} - V(s_t)$. In RLHF the
    reward-model score arrives on the last token and the per-token KL
    penalty on every token; InstructGPT used no discount ($\gamma = 1$).

    Args:
        rewards: ``[..., T]`` per-token rewards $r_t$ (no padding).
        values: ``[..., T]`` value-model estimates $V(s_t)$ (no gradient).
        gamma: discount $\gamma \in [0, 1]$.
        lam: $\lambda \in [0, 1]$, trading bias (small) against variance.

    Returns:
        ``[..., T]`` advantages; ``advantages + values`` are the value
        targets (returns).
    """
    _check_same_shape({"rewards": rewards, "values": values})
    check(0 <= gamma <= 1, f"gamma must be in [0, 1], got {gamma}")
    check(0 <= lam <= 1, f"lam must be in [0, 1], got {lam}")
    values = values.detach()
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    deltas = rewards + gamma * next_values - values
    advantages = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[..., 0])
    for t in range(deltas.shape[-1] - 1, -1, -1):
        running = deltas[..., t] + gamma * lam * running
        advantages[..., t] = running
    return advantages


def rlhf_memory_bytes(
    policy: float,
    reference: float = 0.0,
    reward: float = 0.0,
    value: float = 0.0,
    trainable_bytes: float = 16.0,
    frozen_bytes: float = 2.0,
) -> dict[str, float]:
    r"""Bytes for the weights and optimiser state of the models in RLHF.

    The policy and the value model are trained: with mixed-precision AdamW
    each parameter takes 16 bytes (bf16 weight and gradient, fp32 master
    weight, $m$ and $v$; Rajbhandari et al., 2020). The reference and reward
    models are frozen and take only their bf16 weights, 2 bytes. PPO-RLHF
    has all four; DPO only the policy and the reference; GRPO with a rule
    reward the same two. Activations, the KV cache of generation and
    sharding across GPUs (ZeRO) are left out.

    Args:
        policy: parameter count of the policy (> 0).
        reference: parameter count of the reference model, 0 if absent.
        reward: parameter count of the reward model, 0 if absent.
        value: parameter count of the value model, 0 if absent.
        trainable_bytes: bytes per trained parameter.
        frozen_bytes: bytes per frozen parameter.

    Returns:
        Bytes per model and ``"total"``.
    """
    counts = {
        "policy": policy,
        "reference": reference,
        "reward": reward,
        "value": value,
    }
    check(min(counts.values()) >= 0, f"parameter counts must be >= 0: {counts}")
    check(policy > 0, "the policy must have parameters")
    trained = {"policy", "value"}
    out = {name: n * (trainable_bytes if name in trained else frozen_bytes) for name, n in counts.items()}
    out["total"] = sum(out.values())
    return out


def reward_model_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    r"""Bradley–Terry loss of a reward model, mean over pairs (Ouyang et al., 2022, eq. 1; arXiv 2203.02155).

    The Bradley–Terry model (Bradley & Terry, 1952) says a rater prefers $y_w$ to $y_l$ with probability

    $$P(y_w \succ y_l \mid x) = \sigma\left(r(x, y_w) - r(x, y_l)\right)$$

    and the loss is its negative log-likelihood, $-\log \sigma(r_w - r_l)$. Only the difference enters, so
    adding the same constant to every reward leaves the loss unchanged.

    Args:
        chosen_rewards: ``[batch]`` scalar rewards $r(x, y_w)$ of the preferred responses.
        rejected_rewards: ``[batch]`` rewards $r(x, y_l)$ of the dispreferred responses.

    Returns:
        Scalar loss; $\log 2$ when the two rewards are equal.
    """
    _check_same_shape({"chosen_rewards": chosen_rewards, "rejected_rewards": rejected_rewards})
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def ranking_loss(rewards: torch.Tensor) -> torch.Tensor:
    r"""Reward-model loss for rankings of $K$ responses: all $\binom{K}{2}$ pairs of each ranking, each once.

    $$\mathcal{L} = -\frac{1}{\binom{K}{2}} \sum_{i < j} \log \sigma(r_i - r_j)$$

    InstructGPT had labelers rank $K = 4$ to $9$ responses per prompt and trained on all $\binom{K}{2}$
    comparisons of a ranking as one batch element (Ouyang et al., 2022, §3.5).

    Args:
        rewards: ``[batch, K]`` rewards in rank order, best first.

    Returns:
        Scalar loss.
    """
    check(rewards.dim() == 2 and rewards.shape[1] >= 2, "need rewards [batch, K] with K >= 2, best first")
    better, worse = torch.triu_indices(rewards.shape[1], rewards.shape[1], offset=1)
    return reward_model_loss(rewards[:, better], rewards[:, worse])


def grpo_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    r"""Group-normalised advantages of GRPO's outcome supervision (Shao et al., 2024, §4.1; arXiv 2402.03300).

    $$\hat A_i = \frac{r_i - \mathrm{mean}(r_1, \dots, r_G)}{\mathrm{std}(r_1, \dots, r_G) + \varepsilon}$$

    Each response's advantage is shared by all its tokens. The std uses Bessel's correction, as
    ``torch.std`` (and common GRPO trainers) do. A group whose rewards are all equal gets advantage 0.

    Args:
        rewards: ``[num_groups * group_size]`` one scalar reward per response; the ``group_size`` responses
            to one prompt are consecutive.
        group_size: $G \ge 2$ responses per prompt.
        eps: $\varepsilon$, keeps a group of equal rewards finite.

    Returns:
        ``[num_groups * group_size]`` advantages, zero mean within each group.
    """
    check(group_size >= 2, f"group_size must be >= 2 (the std of one sample is undefined), got {group_size}")
    check(rewards.numel() % group_size == 0, f"{rewards.numel()} rewards: not num_groups * {group_size}")
    groups = rewards.view(-1, group_size)
    mean, std = groups.mean(dim=1, keepdim=True), groups.std(dim=1, keepdim=True)
    return ((groups - mean) / (std + eps)).flatten()


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    r"""Per-token "k3" estimate of $\mathrm{KL}(\pi_\theta \,\|\, \pi_{\mathrm{ref}})$ from tokens sampled from $\pi_\theta$.

    $$\hat D = \frac{\pi_{\mathrm{ref}}}{\pi_\theta} - \log \frac{\pi_{\mathrm{ref}}}{\pi_\theta} - 1 \ \ge 0$$

    It is unbiased because $\mathbb{E}_{\pi_\theta}[\pi_{\mathrm{ref}} / \pi_\theta] = 1$, and never negative
    because $x - 1 \ge \log x$. GRPO uses it (Shao et al., 2024, eq. 4); the estimator is from Schulman's note
    "Approximating KL divergence" (2020). The reference is frozen: no gradient flows into it.

    Args:
        logprobs: ``[...]`` $\log \pi_\theta$ of the sampled tokens.
        ref_logprobs: ``[...]`` $\log \pi_{\mathrm{ref}}$ of the same tokens.

    Returns:
        ``[...]`` non-negative per-token estimates.
    """
    log_ratio = ref_logprobs.detach() - logprobs
    return torch.exp(log_ratio) - log_ratio - 1


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    beta: float = 0.04,
    token_level: bool = False,
) -> torch.Tensor:
    r"""GRPO loss (Shao et al., 2024, eq. 3), or DAPO's token-level variant (Yu et al., 2025; arXiv 2503.14476).

    Per token: $\ell_{i,t} = \min(r_{i,t} \hat A_i, \mathrm{clip}(r_{i,t}) \hat A_i) - \beta \hat D_{i,t}$, with
    :func:`clipped_surrogate` and the :func:`kl_k3` penalty **in the loss**, not in the reward. GRPO averages
    over each response's tokens, then over responses; DAPO averages over all tokens (of one group in its paper's
    objective; here, of every response passed in, as verl does for a mini-batch):

    $$\mathcal{L}_{\mathrm{GRPO}} = -\frac{1}{G}\sum_{i} \frac{1}{|o_i|}\sum_{t} \ell_{i,t}, \qquad
    \mathcal{L}_{\mathrm{token}} = -\frac{1}{\sum_i |o_i|}\sum_{i}\sum_{t} \ell_{i,t}$$

    Args:
        logprobs: ``[N, T]`` $\log \pi_\theta$ of the sampled response tokens.
        old_logprobs: ``[N, T]`` the same under the sampling policy (no gradient).
        ref_logprobs: ``[N, T]`` the same under the frozen reference policy.
        advantages: ``[N]`` one advantage per response (:func:`grpo_advantages`).
        mask: ``[N, T]`` boolean, True on response tokens (False on padding).
        clip_low: $\epsilon_{\mathrm{low}}$.
        clip_high: $\epsilon_{\mathrm{high}}$ (equal to ``clip_low`` in GRPO; larger in DAPO).
        beta: KL coefficient $\beta \ge 0$ (DeepSeekMath used 0.04; DAPO drops the term, $\beta = 0$).
        token_level: average over all tokens (DAPO) instead of per response (GRPO).

    Returns:
        Scalar loss.
    """
    check(mask.dtype == torch.bool, f"mask must be boolean (True = response token), got {mask.dtype}")
    check(beta >= 0, f"beta must be >= 0, got {beta}")
    ratio = torch.exp(logprobs - old_logprobs.detach())
    objective = clipped_surrogate(ratio, advantages[:, None], clip_low, clip_high)
    per_token = torch.where(mask, objective - beta * kl_k3(logprobs, ref_logprobs), 0.0)
    if token_level:
        return -per_token.sum() / mask.sum()
    return -(per_token.sum(dim=1) / mask.sum(dim=1)).mean()


def gspo_sequence_ratio(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    r"""GSPO's sequence-level importance ratio (Zheng et al., 2025, arXiv 2507.18071).

    $$s_i = \left(\frac{\pi_\theta(o_i \mid q)}{\pi_{\theta_{\mathrm{old}}}(o_i \mid q)}\right)^{1/|o_i|}
    = \exp\left(\frac{1}{|o_i|}\sum_t \log \frac{\pi_\theta(o_{i,t} \mid q, o_{i,<t})}
    {\pi_{\theta_{\mathrm{old}}}(o_{i,t} \mid q, o_{i,<t})}\right)$$

    the geometric mean of the token ratios. GSPO clips $s_i$, one ratio per response, instead of each token's.

    Args:
        logprobs: ``[N, T]`` per-token $\log \pi_\theta$.
        old_logprobs: ``[N, T]`` per-token $\log \pi_{\theta_{\mathrm{old}}}$ (no gradient).
        mask: ``[N, T]`` boolean, True on response tokens.

    Returns:
        ``[N]`` sequence-level ratios.
    """
    check(mask.dtype == torch.bool, f"mask must be boolean (True = response token), got {mask.dtype}")
    log_ratio = torch.where(mask, logprobs - old_logprobs.detach(), 0.0)
    return torch.exp(log_ratio.sum(dim=1) / mask.sum(dim=1))

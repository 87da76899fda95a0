r"""Optimisation written out: one AdamW step, Adam with an L2 penalty, warm-up + cosine, accumulation, LR scaling.

* Adam (Kingma & Ba, 2015; arXiv 1412.6980) keeps exponential moving averages of the gradient ($m$) and of
  its square ($v$), corrects their bias towards 0, and steps by $m / \sqrt{v}$ per coordinate.
* AdamW (Loshchilov & Hutter, 2019; arXiv 1711.05101) *decouples* weight decay: it shrinks the weights
  directly instead of adding $\lambda\theta$ to the gradient, where Adam's $1/\sqrt{v}$ would rescale it.
* Warm-up (Goyal et al., 2017; arXiv 1706.02677) and cosine decay (Loshchilov & Hutter, 2017;
  arXiv 1608.03983) make up the usual LLM learning-rate schedule.

The step functions are pure: they take the state and return the new one, with the update rule written as
in ``torch.optim.AdamW`` / ``torch.optim.Adam`` (single tensor, no ``amsgrad``, no ``maximize``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from mllm_handbook._checks import check


def adamw_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    step: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    bias_correction: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One AdamW update (Loshchilov & Hutter, 2019, Algorithm 2; arXiv 1711.05101).

    $$\begin{aligned}
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    \hat m_t &= \frac{m_t}{1-\beta_1^t},\qquad \hat v_t = \frac{v_t}{1-\beta_2^t} \\
    \theta_t &= \theta_{t-1} - \eta\lambda\,\theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
    \end{aligned}$$

    As in ``torch.optim.AdamW``, the decay is multiplied by the learning rate $\eta$ (the paper multiplies
    it by the schedule factor only). The defaults are ``torch.optim.AdamW``'s.

    Args:
        param: $\theta_{t-1}$, any shape.
        grad: $g_t$, same shape.
        exp_avg: $m_{t-1}$ (zeros before the first step).
        exp_avg_sq: $v_{t-1}$ (zeros before the first step).
        step: $t$, counting from 1.
        lr: $\eta$.
        betas: $(\beta_1, \beta_2)$.
        eps: $\epsilon$, added after the square root.
        weight_decay: $\lambda$.
        bias_correction: divide by $1-\beta^t$ (Kingma & Ba, 2015, §3); ``False`` shows what it fixes.

    Returns:
        ``(param, exp_avg, exp_avg_sq)`` after the step (new tensors).
    """
    check(step >= 1, f"step counts from 1, got {step}")
    beta1, beta2 = betas
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    m_hat, v_hat = exp_avg, exp_avg_sq
    if bias_correction:
        m_hat, v_hat = exp_avg / (1 - beta1**step), exp_avg_sq / (1 - beta2**step)
    param = param * (1 - lr * weight_decay) - lr * m_hat / (v_hat.sqrt() + eps)
    return param, exp_avg, exp_avg_sq


def adam_l2_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    step: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One Adam update with an L2 penalty folded into the gradient (``torch.optim.Adam(weight_decay=λ)``).

    $$g_t \leftarrow g_t + \lambda\theta_{t-1},\quad\text{then the Adam step without decay}$$

    The penalty's gradient passes through $1/(\sqrt{\hat v_t}+\epsilon)$, so weights with large gradients
    are decayed *less* than under AdamW (Loshchilov & Hutter, 2019, §2). Defaults are ``torch.optim.Adam``'s.

    Args:
        param: $\theta_{t-1}$.
        grad: $g_t$ of the loss without the penalty.
        exp_avg: $m_{t-1}$.
        exp_avg_sq: $v_{t-1}$.
        step: $t$, counting from 1.
        lr: $\eta$.
        betas: $(\beta_1, \beta_2)$.
        eps: $\epsilon$.
        weight_decay: $\lambda$ of the L2 term $\frac{\lambda}{2}\lVert\theta\rVert^2$.

    Returns:
        ``(param, exp_avg, exp_avg_sq)`` after the step.
    """
    grad = grad + weight_decay * param
    return adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay=0.0)


def warmup_cosine_lr(
    step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0
) -> float:
    r"""Linear warm-up to ``max_lr``, then cosine decay to ``min_lr`` at ``total_steps``.

    $$\eta_t = \begin{cases}
    \eta_{\max}\, t / T_w & t < T_w \\
    \eta_{\min} + \tfrac12(\eta_{\max}-\eta_{\min})\left(1 + \cos\left(\pi\,\frac{t - T_w}{T - T_w}\right)\right)
    & T_w \le t \le T
    \end{cases}$$

    Warm-up as in Goyal et al. (2017); the cosine is SGDR's (Loshchilov & Hutter, 2017) without restarts.
    LLaMA (Touvron et al., 2023) uses $T_w = 2000$ and $\eta_{\min} = 0.1\,\eta_{\max}$.

    Args:
        step: $t$, counting from 0.
        max_lr: $\eta_{\max}$.
        warmup_steps: $T_w \ge 0$.
        total_steps: $T > T_w$.
        min_lr: $\eta_{\min}$.

    Returns:
        The learning rate at ``step``.
    """
    check(0 <= warmup_steps < total_steps, f"need 0 <= warmup_steps < total_steps, got {warmup_steps}")
    check(0 <= step <= total_steps, f"step must be in [0, {total_steps}], got {step}")
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * progress))


def accumulation_losses(
    token_losses: Sequence[torch.Tensor], token_weighted: bool = True
) -> list[torch.Tensor]:
    r"""The loss to call ``backward()`` on for each micro-batch of a gradient-accumulation step.

    With $K$ micro-batches, $n_k$ supervised tokens in micro-batch $k$ and $N = \sum_k n_k$:

    $$\text{token-weighted: } L_k = \frac{1}{N}\sum_{i \in k} \ell_i
    \qquad\text{mean of means: } L_k = \frac{1}{K}\cdot\frac{1}{n_k}\sum_{i \in k} \ell_i$$

    Summing the token-weighted $L_k$ gives the full batch's mean token loss, so the accumulated gradient
    equals the full-batch gradient. The mean of means gives each micro-batch equal weight, so tokens of
    short micro-batches count more; the two agree only when every $n_k$ is equal.

    Args:
        token_losses: one 1-D tensor of per-token losses per micro-batch (supervised tokens only).
        token_weighted: divide by the total token count $N$ (``True``) or average the micro-batch means.

    Returns:
        ``[L_1, ..., L_K]`` scalar losses.
    """
    check(all(t.dim() == 1 and t.numel() > 0 for t in token_losses), "each micro-batch needs a 1-D loss")
    if token_weighted:
        total = sum(t.numel() for t in token_losses)
        return [t.sum() / total for t in token_losses]
    return [t.mean() / len(token_losses) for t in token_losses]


def scale_learning_rate(base_lr: float, base_batch_size: int, batch_size: int, rule: str = "linear") -> float:
    r"""Learning rate for a new batch size: the linear rule for SGD, the square-root rule for Adam.

    $$\eta = \eta_0 \cdot \frac{B}{B_0} \quad\text{(linear)}\qquad
    \eta = \eta_0 \cdot \sqrt{\frac{B}{B_0}} \quad\text{(sqrt)}$$

    The linear rule is Goyal et al. (2017) for SGD, valid up to a critical batch size and with warm-up;
    the square-root rule for adaptive methods follows from Malladi et al. (2022, arXiv 2205.10287), whose
    full rule also rescales $\beta$s and $\epsilon$. Both are starting points, not guarantees.

    Args:
        base_lr: $\eta_0$ tuned at batch size $B_0$.
        base_batch_size: $B_0$.
        batch_size: $B$.
        rule: ``"linear"`` or ``"sqrt"``.

    Returns:
        $\eta$.
    """
    check(rule in ("linear", "sqrt"), f"rule must be 'linear' or 'sqrt', got {rule!r}")
    ratio = batch_size / base_batch_size
    return base_lr * (ratio if rule == "linear" else math.sqrt(ratio))

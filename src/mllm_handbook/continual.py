r"""Two classic regularisers against catastrophic forgetting: EWC and Learning without Forgetting (LwF).

* EWC (Kirkpatrick et al., 2017; arXiv 1612.00796) anchors each parameter to its old value $\theta^*$ with
  a quadratic penalty weighted by the diagonal of the Fisher information: important weights move less.
* LwF (Li & Hoiem, 2016; arXiv 1606.09282) records the old model's outputs on the *new* data and keeps the
  new model's outputs close to them with a temperature-softened distillation term.
* Weight averaging after training: WiSE-FT (Wortsman et al., 2022;
  arXiv 2109.01903) interpolates between the pre-trained and the fine-tuned
  weights; model soups (Wortsman et al., 2022; arXiv 2203.05482) average
  several fine-tuned models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mllm_handbook._checks import check
from mllm_handbook.losses import distillation_loss


def diagonal_fisher(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: Callable | None = None
) -> dict[str, torch.Tensor]:
    r"""Diagonal empirical Fisher: the mean over samples of the squared per-sample gradient.

    $$F_i = \frac{1}{N}\sum_{n=1}^{N} \left(\frac{\partial \log p_\theta(y_n \mid x_n)}{\partial \theta_i}\right)^2$$

    Args:
        model: maps ``inputs[n : n + 1]`` to logits.
        inputs: ``[N, ...]`` samples of the old task.
        targets: ``[N]`` their labels (the empirical Fisher; sampling labels from the model gives the true one).
        loss_fn: per-sample negative log-likelihood; defaults to ``nn.functional.cross_entropy``.

    Returns:
        ``{name: F}`` with one tensor of the parameter's shape per trainable parameter.
    """
    check(len(inputs) == len(targets) and len(inputs) > 0, "need as many targets as inputs, and at least one")
    loss_fn = loss_fn or nn.functional.cross_entropy
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    for x, y in zip(inputs, targets, strict=True):
        grads = torch.autograd.grad(loss_fn(model(x.unsqueeze(0)), y.unsqueeze(0)), list(params.values()))
        for name, g in zip(params, grads, strict=True):
            fisher[name] += g.detach() ** 2 / len(inputs)
    return fisher


def ewc_penalty(
    model: nn.Module, fisher: dict[str, torch.Tensor], anchor: dict[str, torch.Tensor], lam: float
) -> torch.Tensor:
    r"""EWC's quadratic penalty (Kirkpatrick et al., 2017, eq. 3), added to the new task's loss.

    $$\Omega(\theta) = \frac{\lambda}{2}\sum_i F_i \left(\theta_i - \theta^*_i\right)^2$$

    It is zero at $\theta = \theta^*$ and grows fastest along the parameters the old task is sensitive to.

    Args:
        model: the model being fine-tuned.
        fisher: ``{name: F}`` from :func:`diagonal_fisher` at $\theta^*$.
        anchor: ``{name: theta_star}`` the old task's parameters (detached copies).
        lam: $\lambda \ge 0$, how much the old task matters.

    Returns:
        Scalar penalty.
    """
    check(lam >= 0, f"lam must be >= 0, got {lam}")
    check(fisher.keys() == anchor.keys(), "fisher and anchor must have the same parameter names")
    params = dict(model.named_parameters())
    check(set(fisher) <= set(params), f"unknown parameters: {sorted(set(fisher) - set(params))}")
    total = sum((fisher[n] * (params[n] - anchor[n]) ** 2).sum() for n in fisher)
    return 0.5 * lam * torch.as_tensor(total)


def lwf_distillation(
    new_logits: torch.Tensor, old_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    r"""LwF's knowledge-distillation term on the old task's outputs, batch mean (Li & Hoiem, 2016).

    $$\mathcal{L}_{\mathrm{old}} = \mathrm{KL}\left(\mathrm{softmax}(z_{\mathrm{old}}/T) \,\|\,
    \mathrm{softmax}(z_{\mathrm{new}}/T)\right)$$

    The paper writes it as the cross-entropy $-\sum_j p_j \log q_j$ with $T = 2$; that differs from the KL
    only by the old model's entropy, a constant, so both have the same gradient.

    Args:
        new_logits: ``[batch, classes]`` the model being trained, on new-task inputs.
        old_logits: ``[batch, classes]`` the frozen old model, on the same inputs.
        temperature: $T > 0$.

    Returns:
        Scalar loss.
    """
    # Hinton et al.'s soft-target loss without its T² gradient-scale factor (one home for the formula).
    return distillation_loss(new_logits, old_logits, temperature) / temperature**2


def weight_average(
    state_dicts: Sequence[dict[str, torch.Tensor]],
    weights: Sequence[float] | None = None,
) -> dict[str, torch.Tensor]:
    r"""Weighted average of models' parameters, name by name.

    $$\theta = \sum_k w_k \theta_k, \qquad \sum_k w_k = 1$$

    WiSE-FT (Wortsman et al., 2022) is two models, the pre-trained
    $\theta_0$ and the fine-tuned $\theta_1$, with weights $(1-\alpha, \alpha)$:
    $\theta_\alpha = (1-\alpha)\theta_0 + \alpha\theta_1$. A uniform model
    soup is $w_k = 1/K$ over $K$ models fine-tuned from the same
    initialisation. The result is one model: no extra inference cost.

    Args:
        state_dicts: ``K >= 1`` state dicts with the same names and shapes.
        weights: ``K`` weights summing to 1; uniform if omitted.

    Returns:
        The averaged state dict (new tensors; inputs unchanged).
    """
    check(len(state_dicts) >= 1, "need at least one state dict")
    k = len(state_dicts)
    weights = [1.0 / k] * k if weights is None else list(weights)
    check(len(weights) == k, f"need {k} weights, got {len(weights)}")
    check(abs(sum(weights) - 1.0) < 1e-6, f"weights must sum to 1: {weights}")
    names = state_dicts[0].keys()
    for sd in state_dicts[1:]:
        check(sd.keys() == names, "state dicts must have the same names")
        for n in names:
            check(
                sd[n].shape == state_dicts[0][n].shape,
                f"shape mismatch for {n}: {list(sd[n].shape)} vs {list(state_dicts[0][n].shape)}",
            )
    pairs = list(zip(weights, state_dicts, strict=True))
    return {n: sum(w * sd[n].detach() for w, sd in pairs) for n in names}

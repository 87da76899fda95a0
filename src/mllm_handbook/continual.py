r"""Two classic regularisers against catastrophic forgetting: EWC and Learning without Forgetting (LwF).

* EWC (Kirkpatrick et al., 2017; arXiv 1612.00796) anchors each parameter to its old value $\theta^*$ with
  a quadratic penalty weighted by the diagonal of the Fisher information: important weights move less.
* LwF (Li & Hoiem, 2016; arXiv 1606.09282) records the old model's outputs on the *new* data and keeps the
  new model's outputs close to them with a temperature-softened distillation term.
"""

from __future__ import annotations

from collections.abc import Callable

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

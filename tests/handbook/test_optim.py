"""optim: AdamW and Adam + L2 against torch.optim, the schedule, accumulation weights and LR scaling rules."""

import math

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.optim import (
    accumulation_losses,
    adam_l2_step,
    adamw_step,
    scale_learning_rate,
    warmup_cosine_lr,
)


def _grads(steps, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) * (1 + t) for t in range(steps)]


def _run(step_fn, param, grads, **kwargs):
    m, v = torch.zeros_like(param), torch.zeros_like(param)
    for t, grad in enumerate(grads, start=1):
        param, m, v = step_fn(param, grad, m, v, t, **kwargs)
    return param


def _run_torch(optimizer_cls, param, grads, **kwargs):
    p = param.clone().requires_grad_(True)
    opt = optimizer_cls([p], **kwargs)
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
    return p.detach()


def test_adamw_matches_torch_optim_adamw_over_several_steps():
    param = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.5
    grads = _grads(6, (3, 5))
    kwargs = {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.3}
    torch.testing.assert_close(
        _run(adamw_step, param, grads, **kwargs), _run_torch(torch.optim.AdamW, param, grads, **kwargs)
    )


def test_adamw_defaults_are_torchs():
    param = torch.randn(4, dtype=torch.float64) + 1.0
    grads = _grads(3, (4,))
    torch.testing.assert_close(_run(adamw_step, param, grads), _run_torch(torch.optim.AdamW, param, grads))
    explicit = _run(adamw_step, param, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
    torch.testing.assert_close(_run(adamw_step, param, grads), explicit, atol=0, rtol=0)


def test_adam_l2_matches_torch_optim_adam_with_weight_decay_and_differs_from_adamw():
    param = torch.randn(2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
    grads = _grads(5, (2, 3), seed=3)
    kwargs = {"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.5}
    adam_l2 = _run(adam_l2_step, param, grads, **kwargs)
    torch.testing.assert_close(adam_l2, _run_torch(torch.optim.Adam, param, grads, **kwargs))
    assert (adam_l2 - _run(adamw_step, param, grads, **kwargs)).abs().max() > 1e-3
    # Default weight decay 0: plain Adam, as torch.optim.Adam().
    torch.testing.assert_close(_run(adam_l2_step, param, grads), _run_torch(torch.optim.Adam, param, grads))


def test_adamw_and_adam_l2_agree_without_decay():
    param = torch.randn(6, dtype=torch.float64)
    grads = _grads(4, (6,))
    torch.testing.assert_close(
        _run(adamw_step, param, grads, weight_decay=0.0), _run(adam_l2_step, param, grads, weight_decay=0.0)
    )


def test_first_step_with_bias_correction_moves_each_weight_by_about_lr():
    grad = torch.tensor([1e-3, -2.0, 50.0], dtype=torch.float64)
    zeros = torch.zeros(3, dtype=torch.float64)
    new, m, v = adamw_step(zeros, grad, zeros, zeros, 1, lr=0.01, weight_decay=0.0, eps=1e-12)
    torch.testing.assert_close(new, -0.01 * grad.sign())
    torch.testing.assert_close(m, 0.1 * grad)
    torch.testing.assert_close(v, 1e-3 * grad**2)
    # Without the correction: lr * (1 - b1) / sqrt(1 - b2) = lr * 0.1 / sqrt(0.001), about 3.16 lr.
    raw, _, _ = adamw_step(
        zeros, grad, zeros, zeros, 1, lr=0.01, weight_decay=0.0, eps=1e-12, bias_correction=False
    )
    torch.testing.assert_close(raw, -0.01 * 0.1 / math.sqrt(1e-3) * grad.sign())


def test_adamw_decays_weights_with_zero_gradient():
    param = torch.tensor([2.0, -4.0], dtype=torch.float64)
    zeros = torch.zeros(2, dtype=torch.float64)
    new, _, _ = adamw_step(param, zeros, zeros, zeros, 1, lr=0.1, weight_decay=0.5)
    torch.testing.assert_close(new, param * (1 - 0.05))


def test_adamw_step_counts_from_one():
    x = torch.zeros(2)
    adamw_step(x, x, x, x, 1)  # valid edge
    with pytest.raises(ValueError, match="step counts from 1"):
        adamw_step(x, x, x, x, 0)


def test_warmup_cosine_matches_linear_warmup_then_cosine_annealing_lr():
    max_lr, min_lr, warmup, total = 0.3, 0.03, 4, 14
    ours = [warmup_cosine_lr(t, max_lr, warmup, total, min_lr) for t in range(total + 1)]
    assert ours[:warmup] == pytest.approx([max_lr * t / warmup for t in range(warmup)])
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=max_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_lr)
    reference = []
    for _ in range(warmup, total + 1):
        reference.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert ours[warmup:] == pytest.approx(reference)
    assert ours[warmup] == pytest.approx(max_lr) and ours[-1] == pytest.approx(min_lr)


def test_warmup_cosine_default_min_lr_is_zero_and_no_warmup_is_allowed():
    assert warmup_cosine_lr(10, 1.0, 0, 10) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine_lr(5, 1.0, 0, 10) == warmup_cosine_lr(5, 1.0, 0, 10, min_lr=0.0)
    assert warmup_cosine_lr(0, 1.0, 0, 10) == 1.0


def test_warmup_cosine_errors():
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        warmup_cosine_lr(0, 1.0, 10, 10)
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        warmup_cosine_lr(0, 1.0, -1, 10)
    with pytest.raises(ValueError, match="step must be in"):
        warmup_cosine_lr(11, 1.0, 2, 10)
    with pytest.raises(ValueError, match="step must be in"):
        warmup_cosine_lr(-1, 1.0, 2, 10)


def _micro_batches():
    g = torch.Generator().manual_seed(0)
    lengths = [2, 7, 3]  # unequal token counts
    logits = [torch.randn(n, 5, generator=g, dtype=torch.float64) for n in lengths]
    targets = [torch.randint(0, 5, (n,), generator=g) for n in lengths]
    return logits, targets


def test_token_weighted_accumulation_equals_full_batch_gradient():
    logits, targets = _micro_batches()
    w = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    losses = [F.cross_entropy(x @ w, y, reduction="none") for x, y in zip(logits, targets, strict=True)]
    accumulated = torch.autograd.grad(sum(accumulation_losses(losses)), w)[0]
    full = F.cross_entropy(torch.cat(logits) @ w, torch.cat(targets))
    torch.testing.assert_close(accumulated, torch.autograd.grad(full, w)[0])
    # Default is token-weighted.
    torch.testing.assert_close(sum(accumulation_losses(losses)), sum(accumulation_losses(losses, True)))


def test_mean_of_means_differs_unless_lengths_are_equal():
    logits, targets = _micro_batches()
    losses = [F.cross_entropy(x, y, reduction="none") for x, y in zip(logits, targets, strict=True)]
    full = F.cross_entropy(torch.cat(logits), torch.cat(targets))
    mean_of_means = sum(accumulation_losses(losses, token_weighted=False))
    torch.testing.assert_close(mean_of_means, torch.stack([x.mean() for x in losses]).mean())
    assert (mean_of_means - full).abs() > 1e-3
    equal = [torch.rand(4, dtype=torch.float64) for _ in range(3)]
    torch.testing.assert_close(sum(accumulation_losses(equal, False)), sum(accumulation_losses(equal, True)))


def test_accumulation_errors():
    with pytest.raises(ValueError, match="1-D loss"):
        accumulation_losses([torch.ones(2), torch.ones(0)])
    with pytest.raises(ValueError, match="1-D loss"):
        accumulation_losses([torch.ones(2, 2)])


def test_scale_learning_rate_rules():
    assert scale_learning_rate(0.1, 256, 8192) == pytest.approx(3.2)  # Goyal et al.: 0.1 per 256
    assert scale_learning_rate(1e-4, 64, 256, "sqrt") == pytest.approx(2e-4)
    assert scale_learning_rate(0.1, 256, 1024) == scale_learning_rate(0.1, 256, 1024, rule="linear")
    with pytest.raises(ValueError, match="rule must be"):
        scale_learning_rate(0.1, 256, 512, "cubic")

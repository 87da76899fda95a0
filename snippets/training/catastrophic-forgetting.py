"""Forgetting on a toy two-task problem, and what EWC, LwF and replay keep."""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook.continual import (
    diagonal_fisher,
    ewc_penalty,
    lwf_distillation,
    weight_average,
)

torch.manual_seed(0)


def make_task(n: int, centre: float, direction: list[float]):
    """2-D points around (centre, 0), labelled by the side of a line through
    the centre."""
    offset = torch.randn(n, 2)
    labels = (offset @ torch.tensor(direction) > 0).long()
    return offset + torch.tensor([centre, 0.0]), labels


xa, ya = make_task(200, -2.0, [0.0, 1.0])  # old task A
xb, yb = make_task(200, 2.0, [1.0, 1.0])  # new task B: another rule, elsewhere


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (model(x).argmax(-1) == y).float().mean().item()


def train(model, x, y, steps=60, regulariser=None) -> nn.Module:
    """Full-batch Adam on cross-entropy (+ a regulariser of the model)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        if regulariser:
            loss = loss + regulariser(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


model = train(
    nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)), xa, ya
)

# EWC ingredients at theta*: the diagonal Fisher on task A and a frozen copy
# of the parameters; the penalty is zero at theta*.
fisher = diagonal_fisher(model, xa[:50], ya[:50])
anchor = {name: p.detach().clone() for name, p in model.named_parameters()}
assert ewc_penalty(model, fisher, anchor, lam=1000.0).item() == 0.0
# LwF ingredient: the old model's outputs on the *new* task's inputs.
old_model = copy.deepcopy(model).requires_grad_(False)
new_logits, old_logits = model(xb), old_model(xb)
p, log_q = F.softmax(old_logits / 2, -1), F.log_softmax(new_logits / 2, -1)
assert torch.allclose(
    lwf_distillation(new_logits, old_logits, 2.0),
    (p * (p.log() - log_q)).sum(-1).mean(),
)
print("EWC penalty at theta* = 0; LwF term == manual KL: OK")

replay_x = torch.cat([xb, xa[:20]])  # keep 10 % of task A
replay_y = torch.cat([yb, ya[:20]])


def ewc(lam: float):
    return lambda m: ewc_penalty(m, fisher, anchor, lam=lam)


def lwf(m):
    return 5 * lwf_distillation(m(xb), old_logits)  # old model: frozen


runs = {
    "before fine-tuning": lambda m: m,
    "fine-tune on B only": lambda m: train(m, xb, yb),
    "+ EWC, lambda=1000": lambda m: train(m, xb, yb, regulariser=ewc(1000.0)),
    "+ EWC, lambda=10000": lambda m: train(m, xb, yb, regulariser=ewc(1e4)),
    "+ LwF (weight 5)": lambda m: train(m, xb, yb, regulariser=lwf),
    "+ replay 20 A samples": lambda m: train(m, replay_x, replay_y),
}
print(f"{'':<22} | acc A (old) | acc B (new)")
results, models = {}, {}
for name, run in runs.items():
    m = models[name] = run(copy.deepcopy(model))
    results[name] = (accuracy(m, xa, ya), accuracy(m, xb, yb))
    print(f"{name:<22} | {results[name][0]:>11.3f} | {results[name][1]:>11.3f}")

before, b_only = results["before fine-tuning"], results["fine-tune on B only"]
assert b_only[0] < 0.6 < 0.9 < before[0]  # forgetting: A falls to chance
# The larger EWC's lambda (B only: lambda = 0), the more of A it keeps and
# the less B it learns.
ewc_runs = [b_only] + [results[f"+ EWC, lambda={lam}"] for lam in (1000, 10000)]
kept_a, learned_b = zip(*ewc_runs, strict=True)
assert list(kept_a) == sorted(kept_a)
assert list(learned_b) == sorted(learned_b, reverse=True)
assert ewc_runs[1][0] > b_only[0] + 0.3
# Replaying a little of A keeps both; LwF, constrained on B's inputs only,
# does worse on both.
replay, lwf_run = results["+ replay 20 A samples"], results["+ LwF (weight 5)"]
assert min(replay) > 0.9 and lwf_run[0] < replay[0] and lwf_run[1] < replay[1]

# WiSE-FT after the fact: interpolate between the model before fine-tuning
# (theta_0) and the one fine-tuned on B only (theta_1), no retraining.
theta0 = models["before fine-tuning"].state_dict()
theta1 = models["fine-tune on B only"].state_dict()
print(f"{'WiSE-FT alpha':<22} | acc A (old) | acc B (new)")
wise = {}
for alpha in (0.0, 0.25, 0.5, 0.75, 1.0):
    m = copy.deepcopy(model)
    m.load_state_dict(weight_average([theta0, theta1], [1 - alpha, alpha]))
    wise[alpha] = (accuracy(m, xa, ya), accuracy(m, xb, yb))
    print(f"{alpha:<22} | {wise[alpha][0]:>11.3f} | {wise[alpha][1]:>11.3f}")
assert wise[0.0] == before and wise[1.0] == b_only  # the two ends
acc_a, acc_b = zip(*wise.values(), strict=True)
# On this toy, alpha only trades A for B: no point beats both ends.
assert list(acc_a) == sorted(acc_a, reverse=True)
assert list(acc_b) == sorted(acc_b)

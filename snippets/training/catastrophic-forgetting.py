"""Catastrophic forgetting on a toy two-task problem; EWC, LwF and replay trade old-task for new-task accuracy (page: training/catastrophic-forgetting)."""

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
threads = torch.get_num_threads()
torch.set_num_threads(1)  # tiny tensors: extra threads cost more than they save


def make_task(
    n: int, centre: float, direction: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D points around (centre, 0), labelled by the side of a line through the centre."""
    offset = torch.randn(n, 2)
    return offset + torch.tensor([centre, 0.0]), (
        offset @ torch.tensor(direction) > 0
    ).long()


xa, ya = make_task(200, -2.0, [0.0, 1.0])  # old task A
xb, yb = make_task(
    200, 2.0, [1.0, 1.0]
)  # new task B, a different rule in another region


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (model(x).argmax(-1) == y).float().mean().item()


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    regulariser=None,
) -> nn.Module:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y) + (
            regulariser(model) if regulariser else 0.0
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


model = train(
    nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)),
    xa,
    ya,
    steps=60,
)

# EWC ingredients at theta*: the diagonal Fisher on task A and a frozen copy of the parameters.
fisher = diagonal_fisher(model, xa[:50], ya[:50])
anchor = {name: p.detach().clone() for name, p in model.named_parameters()}
assert (
    ewc_penalty(model, fisher, anchor, lam=1000.0).item() == 0.0
)  # zero at theta*
# LwF ingredient: the old model's outputs on the *new* task's inputs.
old_model = copy.deepcopy(model).requires_grad_(False)
new_logits, old_logits = model(xb), old_model(xb)
p, log_q = F.softmax(old_logits / 2, -1), F.log_softmax(new_logits / 2, -1)
assert torch.allclose(
    lwf_distillation(new_logits, old_logits, 2.0),
    (p * (p.log() - log_q)).sum(-1).mean(),
)
print("EWC penalty at theta* = 0; LwF term == manual KL: OK")

replay_x, replay_y = (
    torch.cat([xb, xa[:20]]),
    torch.cat([yb, ya[:20]]),
)  # keep 10 % of task A


def ewc(lam: float):
    return lambda m: ewc_penalty(m, fisher, anchor, lam=lam)


runs = {
    "before fine-tuning": lambda m: m,
    "fine-tune on B only": lambda m: train(m, xb, yb, 100),
    "+ EWC, lambda=300": lambda m: train(m, xb, yb, 100, ewc(300.0)),
    "+ EWC, lambda=1000": lambda m: train(m, xb, yb, 100, ewc(1000.0)),
    "+ EWC, lambda=10000": lambda m: train(m, xb, yb, 100, ewc(10000.0)),
    "+ LwF (weight 5)": lambda m: train(
        m, xb, yb, 100, lambda n: 5 * lwf_distillation(n(xb), old_model(xb))
    ),
    "+ replay 20 A samples": lambda m: train(m, replay_x, replay_y, 100),
}
print(f"{'':<22} | acc A (old) | acc B (new)")
results, models = {}, {}
for name, run in runs.items():
    m = models[name] = run(copy.deepcopy(model))
    results[name] = (accuracy(m, xa, ya), accuracy(m, xb, yb))
    print(f"{name:<22} | {results[name][0]:>11.3f} | {results[name][1]:>11.3f}")

assert (
    results["fine-tune on B only"][0]
    < 0.6
    < 0.9
    < results["before fine-tuning"][0]
)  # forgetting
assert (
    results["+ EWC, lambda=1000"][0] > results["fine-tune on B only"][0] + 0.3
)  # EWC keeps task A ...
assert (
    results["+ EWC, lambda=10000"][1] < results["+ EWC, lambda=300"][1]
)  # ... at the cost of task B

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
assert wise[0.0] == results["before fine-tuning"]  # alpha = 0: theta_0
assert wise[1.0] == results["fine-tune on B only"]  # alpha = 1: theta_1
acc_a, acc_b = zip(*wise.values(), strict=True)
# On this toy, alpha only trades A for B: no point beats both ends.
assert list(acc_a) == sorted(acc_a, reverse=True)
assert list(acc_b) == sorted(acc_b)

torch.set_num_threads(threads)

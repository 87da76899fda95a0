"""continual: EWC penalty and diagonal Fisher; LwF distillation term."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook.continual import (
    diagonal_fisher,
    ewc_penalty,
    lwf_distillation,
    weight_average,
)


def setup():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    fisher = diagonal_fisher(model, x, y)
    anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
    return model, x, y, fisher, anchor


def test_fisher_is_mean_squared_per_sample_gradient():
    model, x, y, fisher, _ = setup()
    expected = torch.zeros_like(model.weight)
    for i in range(6):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        expected += model.weight.grad**2 / 6
    torch.testing.assert_close(fisher["weight"], expected)
    assert set(fisher) == {"weight", "bias"} and all((f >= 0).all() for f in fisher.values())


def test_penalty_zero_at_anchor_and_quadratic():
    model, _, _, fisher, anchor = setup()
    assert ewc_penalty(model, fisher, anchor, lam=10.0).item() == 0.0
    with torch.no_grad():
        model.weight += 0.1
    p1 = ewc_penalty(model, fisher, anchor, lam=10.0)
    expected = 5.0 * (fisher["weight"] * 0.01).sum()
    torch.testing.assert_close(p1, expected)
    with torch.no_grad():
        model.weight += 0.1  # now 0.2 away: 4x the penalty
    torch.testing.assert_close(ewc_penalty(model, fisher, anchor, lam=10.0), 4 * p1)


def test_penalty_bad_inputs():
    model, _, _, fisher, anchor = setup()
    with pytest.raises(ValueError, match="lam must be >= 0"):
        ewc_penalty(model, fisher, anchor, lam=-1.0)
    with pytest.raises(ValueError, match="same parameter names"):
        ewc_penalty(model, fisher, {"weight": anchor["weight"]}, lam=1.0)
    with pytest.raises(ValueError, match="unknown parameters"):
        ewc_penalty(model, {"w2": fisher["weight"]}, {"w2": anchor["weight"]}, lam=1.0)


def test_fisher_bad_inputs():
    with pytest.raises(ValueError, match="as many targets"):
        diagonal_fisher(nn.Linear(4, 3), torch.randn(3, 4), torch.zeros(2, dtype=torch.long))


def test_lwf_equals_manual_kl_and_kl_div():
    g = torch.Generator().manual_seed(0)
    new, old = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    p, q = F.softmax(old / 2, -1), F.softmax(new / 2, -1)
    manual = (p * (p.log() - q.log())).sum(-1).mean()
    torch.testing.assert_close(lwf_distillation(new, old, 2.0), manual)
    builtin = F.kl_div(
        F.log_softmax(new / 2, -1), F.log_softmax(old / 2, -1), reduction="batchmean", log_target=True
    )
    torch.testing.assert_close(lwf_distillation(new, old, 2.0), builtin)
    assert lwf_distillation(old, old).abs().item() < 1e-7


def test_lwf_bad_inputs():
    with pytest.raises(ValueError, match="temperature"):
        lwf_distillation(torch.randn(2, 3), torch.randn(2, 3), temperature=0.0)


def test_weight_average_is_wise_ft_interpolation():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 2).state_dict(), nn.Linear(3, 2).state_dict()
    mixed = weight_average([a, b], [0.25, 0.75])
    for n in a:
        torch.testing.assert_close(mixed[n], 0.25 * a[n] + 0.75 * b[n])
    # alpha = 0 and 1 give back the end points; inputs are not modified
    at_0 = weight_average([a, b], [1.0, 0.0])
    at_1 = weight_average([a, b], [0.0, 1.0])
    torch.testing.assert_close(at_0["weight"], a["weight"])
    torch.testing.assert_close(at_1["bias"], b["bias"])
    assert mixed["weight"] is not a["weight"]


def test_uniform_soup_is_the_mean():
    torch.manual_seed(1)
    sds = [nn.Linear(2, 2).state_dict() for _ in range(3)]
    soup = weight_average(sds)
    expected = torch.stack([sd["weight"] for sd in sds]).mean(0)
    torch.testing.assert_close(soup["weight"], expected)


def test_weight_average_bad_inputs():
    a = nn.Linear(2, 2).state_dict()
    with pytest.raises(ValueError, match="sum to 1"):
        weight_average([a, a], [0.5, 0.6])
    with pytest.raises(ValueError, match="need 2 weights"):
        weight_average([a, a], [1.0])
    with pytest.raises(ValueError, match="shape mismatch"):
        weight_average([a, nn.Linear(3, 2).state_dict()])
    with pytest.raises(ValueError, match="same names"):
        weight_average([a, {"weight": a["weight"]}])
    with pytest.raises(ValueError, match="at least one"):
        weight_average([])

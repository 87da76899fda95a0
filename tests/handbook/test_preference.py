"""preference: DPO loss and implicit reward, PPO clipped surrogate, against the papers' formulas."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.preference import dpo_implicit_reward, dpo_loss, ppo_clip_loss, sequence_logps


def test_dpo_is_log2_when_policy_equals_reference():
    g = torch.Generator().manual_seed(0)
    chosen, rejected = torch.randn(5, generator=g), torch.randn(5, generator=g)
    loss = dpo_loss(chosen, rejected, chosen.clone(), rejected.clone(), beta=0.5)
    torch.testing.assert_close(loss, torch.tensor(math.log(2.0)))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), beta=st.floats(0.01, 2.0))
def test_dpo_matches_paper_formula(seed, beta):
    pc, pr, rc, rr = torch.randn(4, 6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    margin = beta * ((pc - rc) - (pr - rr))
    expected = -torch.log(torch.sigmoid(margin)).mean()
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr, beta), expected)


def test_dpo_gradient_raises_chosen_and_lowers_rejected():
    pc, pr = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    dpo_loss(pc, pr, torch.zeros(3), torch.zeros(3)).backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()  # descent increases log pi(chosen)


def test_implicit_reward():
    r = dpo_implicit_reward(torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -2.0]), beta=0.1)
    torch.testing.assert_close(r, torch.tensor([0.1, -0.1]))


def test_dpo_bad_inputs():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="same shape"):
        dpo_loss(x, torch.zeros(4), x, x)
    with pytest.raises(ValueError, match="same shape"):
        dpo_loss(x, x, torch.zeros(2), x)
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo_loss(x, x, x, x, beta=0.0)
    with pytest.raises(ValueError, match="floating-point"):
        dpo_loss(x.long(), x, x, x)


def ppo(ratio, adv, eps=0.2):
    return ppo_clip_loss(torch.log(torch.tensor([ratio])), torch.zeros(1), torch.tensor([adv]), eps)


@pytest.mark.parametrize(
    ("ratio", "adv", "objective"),
    [
        (1.5, 1.0, 1.2),  # A > 0: gain capped at 1 + eps
        (0.5, 1.0, 0.5),  # A > 0: moving the wrong way is not clipped
        (0.5, -1.0, -0.8),  # A < 0: gain capped at 1 - eps
        (1.5, -1.0, -1.5),  # A < 0: moving the wrong way is not clipped
        (1.1, 2.0, 2.2),  # inside the trust region: plain ratio * A
    ],
)
def test_ppo_clip_both_signs(ratio, adv, objective):
    torch.testing.assert_close(ppo(ratio, adv), torch.tensor(-objective))


def test_ppo_gradient_is_zero_when_clipped():
    logp = torch.log(torch.tensor([1.5, 0.5])).requires_grad_(True)
    ppo_clip_loss(logp, torch.zeros(2), torch.tensor([1.0, -1.0])).backward()
    torch.testing.assert_close(logp.grad, torch.zeros(2))


def test_ppo_at_ratio_one_is_minus_mean_advantage():
    adv = torch.tensor([0.3, -1.2, 2.0])
    torch.testing.assert_close(ppo_clip_loss(torch.zeros(3), torch.zeros(3), adv), -adv.mean())


def test_ppo_bad_inputs():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="same shape"):
        ppo_clip_loss(x, x, torch.zeros(2))
    with pytest.raises(ValueError, match="clip_range"):
        ppo_clip_loss(x, x, x, clip_range=1.5)


def test_sequence_logps_sums_response_tokens():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 7, generator=g)
    labels = torch.tensor([[-100, -100, 3, 4, 1], [-100, 2, 2, 6, -100]])
    logp = F.log_softmax(logits, -1)
    expected = torch.stack(
        [
            logp[0, 1, 3] + logp[0, 2, 4] + logp[0, 3, 1],
            logp[1, 0, 2] + logp[1, 1, 2] + logp[1, 2, 6],
        ]
    )
    torch.testing.assert_close(sequence_logps(logits, labels), expected)


def test_sequence_logps_bad_shape():
    with pytest.raises(ValueError, match=r"logits \[B, T, V\]"):
        sequence_logps(torch.randn(2, 5, 7), torch.zeros(2, 4, dtype=torch.long))

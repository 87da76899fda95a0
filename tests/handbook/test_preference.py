"""preference: reward-model, DPO, PPO and GRPO losses against the papers' formulas."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.preference import (
    clipped_surrogate,
    dpo_implicit_reward,
    dpo_loss,
    gae_advantages,
    grpo_advantages,
    grpo_loss,
    gspo_sequence_ratio,
    kl_k3,
    ppo_clip_loss,
    ranking_loss,
    reward_model_loss,
    rlhf_memory_bytes,
    sequence_logps,
)


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


def ppo_reference(logp, old, adv, eps):
    """PPO eq. 7 written out elementwise, straight from the paper."""
    out = []
    for lp, o, a in zip(logp.tolist(), old.tolist(), adv.tolist(), strict=True):
        r = math.exp(lp - o)
        out.append(min(r * a, min(max(r, 1 - eps), 1 + eps) * a))
    return -torch.tensor(out, dtype=torch.float64).mean()


def test_ppo_matches_paper_with_nonzero_old_logprobs():
    # Non-zero old log-probs and unequal advantages: exp(logp + old) or a swapped ratio gives another value.
    logp = torch.tensor([-1.0, -2.5, -0.3, -4.0, -0.9], dtype=torch.float64)
    old = torch.tensor([-1.4, -2.0, -0.35, -3.1, -1.0], dtype=torch.float64)
    adv = torch.tensor([0.7, -1.3, 2.1, 0.4, -0.2], dtype=torch.float64)
    torch.testing.assert_close(ppo_clip_loss(logp, old, adv, 0.2), ppo_reference(logp, old, adv, 0.2))


def test_ppo_gradient_flows_to_logprobs_not_old_logprobs():
    logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    old = torch.tensor([-1.1, -1.9], requires_grad=True)
    ppo_clip_loss(logp, old, torch.tensor([1.0, -0.5])).backward()
    assert old.grad is None
    ratio = torch.exp(logp.detach() - old.detach())
    torch.testing.assert_close(logp.grad, -ratio * torch.tensor([1.0, -0.5]) / 2)  # d(-r A)/dlogp = -r A / n


def test_ppo_clip_range_edges_and_default():
    x, adv = torch.log(torch.tensor([1.5, 0.5])), torch.tensor([1.0, -1.0])
    torch.testing.assert_close(
        ppo_clip_loss(x, torch.zeros(2), adv), ppo_clip_loss(x, torch.zeros(2), adv, 0.2)
    )
    ppo_clip_loss(x, torch.zeros(2), adv, clip_range=0.999)  # valid edge
    with pytest.raises(ValueError, match="clip_range"):
        ppo_clip_loss(x, torch.zeros(2), adv, clip_range=0.0)


# clipped surrogate (PPO, DAPO clip-higher)


def test_clipped_surrogate_asymmetric_bounds():
    ratio = torch.tensor([1.25, 1.25, 0.75, 0.75, 1.4])
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0, 2.0])
    got = clipped_surrogate(ratio, adv, clip_low=0.2, clip_high=0.28)
    # A > 0: capped at 1 + 0.28 (1.25 passes); A < 0 and r < 1 - 0.2: capped at -(0.8).
    torch.testing.assert_close(got, torch.tensor([1.25, -1.25, 0.75, -0.8, 2 * 1.28]))
    torch.testing.assert_close(clipped_surrogate(ratio, adv), clipped_surrogate(ratio, adv, 0.2, 0.2))


def test_clipped_surrogate_gradient_only_inside_the_range():
    ratio = torch.tensor([1.25, 1.25], requires_grad=True)
    clipped_surrogate(ratio[:1], torch.ones(1), 0.2, 0.2).sum().backward()
    assert ratio.grad[0] == 0  # symmetric PPO: r = 1.25 > 1.2, no gradient
    ratio.grad = None
    clipped_surrogate(ratio[1:], torch.ones(1), 0.2, 0.28).sum().backward()
    assert ratio.grad[1] == 1  # clip-higher: r = 1.25 < 1.28, still pushed up


def test_clipped_surrogate_bad_ranges():
    r = torch.ones(2)
    clipped_surrogate(r, r, clip_low=0.999, clip_high=1e-6)  # valid edges
    for low, high in [(0.0, 0.2), (1.0, 0.2), (0.2, 0.0)]:
        with pytest.raises(ValueError, match="clip_low"):
            clipped_surrogate(r, r, low, high)


# reward model (Bradley-Terry)


def test_reward_model_loss_hand_computed():
    chosen, rejected = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.5, 1.0, -1.0])
    expected = -(math.log(1 / (1 + math.exp(-1.5))) + math.log(1 / (1 + math.exp(1.0))) + math.log(0.5)) / 3
    assert math.isclose(reward_model_loss(chosen, rejected).item(), expected, rel_tol=1e-6)


def test_reward_model_loss_only_sees_differences():
    g = torch.Generator().manual_seed(3)
    chosen, rejected = torch.randn(2, 7, generator=g, dtype=torch.float64)
    base = reward_model_loss(chosen, rejected)
    for c in (-5.0, 0.3, 100.0):
        torch.testing.assert_close(reward_model_loss(chosen + c, rejected + c), base)
    assert reward_model_loss(rejected, chosen) != base  # but the order matters


def test_reward_model_loss_gradient():
    chosen = torch.tensor([1.0, -0.5], requires_grad=True)
    rejected = torch.tensor([0.0, 0.5], requires_grad=True)
    reward_model_loss(chosen, rejected).backward()
    expected = (
        -torch.sigmoid(-(chosen.detach() - rejected.detach())) / 2
    )  # d/dr_w of -log sigma(r_w - r_l), / n
    torch.testing.assert_close(chosen.grad, expected)
    torch.testing.assert_close(rejected.grad, -expected)


def test_reward_model_loss_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        reward_model_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="floating-point"):
        reward_model_loss(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))


def test_ranking_loss_averages_all_pairs():
    rewards = torch.tensor([[3.0, 1.0, 2.0, -1.0], [0.0, 0.5, -0.5, 2.0]])  # rank order, best first
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    assert len(pairs) == math.comb(4, 2)
    expected = torch.stack([-F.logsigmoid(rewards[:, i] - rewards[:, j]) for i, j in pairs], dim=1).mean()
    torch.testing.assert_close(ranking_loss(rewards), expected)
    two = torch.tensor([[1.0, 0.2], [0.0, 3.0]])
    torch.testing.assert_close(ranking_loss(two), reward_model_loss(two[:, 0], two[:, 1]))


def test_ranking_loss_bad_inputs():
    with pytest.raises(ValueError, match="K >= 2"):
        ranking_loss(torch.zeros(3, 1))
    with pytest.raises(ValueError, match="K >= 2"):
        ranking_loss(torch.zeros(4))


# GRPO


def test_grpo_advantages_unequal_groups_nonzero_means():
    rewards = torch.tensor([1.0, 0.0, 0.0, 5.0, 2.0, 2.5, 3.0, 4.5, 7.0, 7.0, 7.0, 7.0])
    got = grpo_advantages(rewards, group_size=4, eps=1e-4)
    for g in range(3):
        group = rewards[4 * g : 4 * g + 4]
        torch.testing.assert_close(got[4 * g : 4 * g + 4], (group - group.mean()) / (torch.std(group) + 1e-4))
    torch.testing.assert_close(got.view(3, 4).mean(1), torch.zeros(3), atol=1e-6, rtol=0)
    # Bessel's correction: std of [1, 0, 0, 5] is sqrt(17 / 3), not sqrt(17 / 4).
    assert math.isclose(got[3].item(), (5 - 1.5) / (math.sqrt(17 / 3) + 1e-4), rel_tol=1e-6)


def test_grpo_advantages_equal_rewards_give_zero():
    got = grpo_advantages(torch.tensor([0.3, 0.3, 0.3, 1.0, 0.0, 1.0]), group_size=3)
    torch.testing.assert_close(got[:3], torch.zeros(3))
    assert (got[3:] != 0).all()


def test_grpo_advantages_default_eps_and_two_per_group():
    rewards = torch.tensor([0.0, 1.0, 2.0, 2.0])
    torch.testing.assert_close(grpo_advantages(rewards, 2), grpo_advantages(rewards, 2, eps=1e-4))
    # group of two: +-(1/2) / (sqrt(1/2) + eps)
    assert math.isclose(grpo_advantages(rewards, 2)[1].item(), 0.5 / (math.sqrt(0.5) + 1e-4), rel_tol=1e-6)


def test_grpo_advantages_bad_inputs():
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        grpo_advantages(torch.zeros(4), group_size=1)
    with pytest.raises(ValueError, match="num_groups"):
        grpo_advantages(torch.zeros(5), group_size=2)


def test_kl_k3_is_nonnegative_and_unbiased():
    p = torch.tensor([0.5, 0.2, 0.2, 0.1], dtype=torch.float64)  # pi_theta
    q = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)  # pi_ref
    exact = (p * (p / q).log()).sum()
    per_token = kl_k3(p.log(), q.log())
    assert (per_token >= 0).all()
    torch.testing.assert_close((p * per_token).sum(), exact)  # expectation under pi_theta, computed exactly
    torch.testing.assert_close(kl_k3(q.log(), q.log()), torch.zeros(4, dtype=torch.float64))


def test_kl_k3_gradient_blocked_into_reference():
    logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    ref = torch.tensor([-1.5, -1.0], requires_grad=True)
    kl_k3(logp, ref).sum().backward()
    assert ref.grad is None
    torch.testing.assert_close(logp.grad, 1 - torch.exp(ref.detach() - logp.detach()))


def grpo_reference(logp, old, ref, adv, mask, low, high, beta, token_level):
    """DeepSeekMath eq. 3 (and DAPO's token-level average), looped over responses and tokens."""
    terms, per_seq = [], []
    for i in range(len(logp)):
        seq = []
        for t in range(len(logp[i])):
            if mask[i][t]:
                r = math.exp(logp[i][t] - old[i][t])
                surrogate = min(r * adv[i], min(max(r, 1 - low), 1 + high) * adv[i])
                kl = math.exp(ref[i][t] - logp[i][t]) - (ref[i][t] - logp[i][t]) - 1
                seq.append(surrogate - beta * kl)
        terms += seq
        per_seq.append(sum(seq) / len(seq))
    return -(sum(terms) / len(terms) if token_level else sum(per_seq) / len(per_seq))


@pytest.mark.parametrize("token_level", [False, True])
def test_grpo_loss_matches_paper(token_level):
    g = torch.Generator().manual_seed(7)
    logp = -torch.rand(3, 5, generator=g, dtype=torch.float64) * 3
    old = logp + 0.3 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    ref = logp + 0.5 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    adv = torch.tensor([1.2, -0.4, -0.8], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    logp[~mask] = float("-inf")  # padding may hold anything; it must not leak into the loss
    got = grpo_loss(logp, old, ref, adv, mask, 0.2, 0.28, 0.04, token_level=token_level)
    expected = grpo_reference(
        logp.tolist(), old.tolist(), ref.tolist(), adv.tolist(), mask.tolist(), 0.2, 0.28, 0.04, token_level
    )
    assert math.isclose(got.item(), expected, rel_tol=1e-9)


def test_grpo_loss_defaults():
    g = torch.Generator().manual_seed(0)
    logp, old, ref = -torch.rand(3, 2, 4, generator=g)
    adv, mask = torch.tensor([1.0, -1.0]), torch.ones(2, 4, dtype=torch.bool)
    torch.testing.assert_close(
        grpo_loss(logp, old, ref, adv, mask),
        grpo_loss(logp, old, ref, adv, mask, clip_low=0.2, clip_high=0.2, beta=0.04, token_level=False),
    )


def test_grpo_loss_token_weights_sequence_vs_token_level():
    # Two responses of lengths 2 and 6 with the same advantage, at ratio 1 and no KL.
    mask = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    for token_level, short, long in [(False, 1 / 4, 1 / 12), (True, 1 / 8, 1 / 8)]:
        logp = torch.zeros(2, 6, requires_grad=True)
        grpo_loss(
            logp, torch.zeros(2, 6), torch.zeros(2, 6), torch.ones(2), mask, beta=0.0, token_level=token_level
        ).backward()
        torch.testing.assert_close(-logp.grad[0, :2], torch.full((2,), short))
        torch.testing.assert_close(-logp.grad[1], torch.full((6,), long))
        torch.testing.assert_close(logp.grad[0, 2:], torch.zeros(4))  # padding gets no gradient


def test_grpo_loss_equal_rewards_contribute_no_policy_gradient():
    rewards = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    adv = grpo_advantages(rewards, group_size=3)
    logp = (-torch.rand(6, 4, generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    grpo_loss(logp, logp.detach() - 0.05, logp.detach(), adv, torch.ones(6, 4, dtype=torch.bool)).backward()
    torch.testing.assert_close(logp.grad[:3], torch.zeros(3, 4))  # ref = pi_theta: the KL term is flat too
    assert (logp.grad[3:] != 0).all()


def test_grpo_loss_gradient_blocked_into_old_and_ref():
    logp = torch.full((1, 3), -1.0, requires_grad=True)
    old = torch.full((1, 3), -1.2, requires_grad=True)
    ref = torch.full((1, 3), -0.8, requires_grad=True)
    grpo_loss(logp, old, ref, torch.ones(1), torch.ones(1, 3, dtype=torch.bool)).backward()
    assert old.grad is None and ref.grad is None and logp.grad is not None


def test_grpo_loss_bad_inputs():
    x, adv = torch.zeros(2, 3), torch.zeros(2)
    with pytest.raises(ValueError, match="mask must be boolean"):
        grpo_loss(x, x, x, adv, torch.ones(2, 3))
    with pytest.raises(ValueError, match="beta must be >= 0"):
        grpo_loss(x, x, x, adv, torch.ones(2, 3, dtype=torch.bool), beta=-0.1)
    grpo_loss(x, x, x, adv, torch.ones(2, 3, dtype=torch.bool), beta=0.0)  # valid edge (DAPO)


def test_gspo_ratio_is_geometric_mean_of_token_ratios():
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-0.2, -3.0, 0.0]], dtype=torch.float64)
    old = torch.tensor([[-1.3, -1.6, -0.4], [-0.1, -2.0, 5.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    token_ratios = torch.exp(logp - old)
    expected = torch.stack([token_ratios[0].prod() ** (1 / 3), token_ratios[1, :2].prod() ** (1 / 2)])
    torch.testing.assert_close(gspo_sequence_ratio(logp, old, mask), expected)


def test_gspo_ratio_gradient_and_mask():
    logp = torch.zeros(1, 4, requires_grad=True)
    old = torch.zeros(1, 4, requires_grad=True)
    gspo_sequence_ratio(logp, old, torch.tensor([[1, 1, 0, 0]], dtype=torch.bool)).sum().backward()
    assert old.grad is None
    torch.testing.assert_close(logp.grad, torch.tensor([[0.5, 0.5, 0.0, 0.0]]))  # d s / d logp_t = s / |o|
    with pytest.raises(ValueError, match="mask must be boolean"):
        gspo_sequence_ratio(logp, old, torch.ones(1, 4))


def test_gae_by_hand():
    # delta = r + gamma V' - V: [0 + .9*.5 - 1, 0 + .9*2 - .5, 1 + 0 - 2]
    rewards = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    values = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    adv = gae_advantages(rewards, values, gamma=0.9, lam=0.5)
    d = [-0.55, 1.3, -1.0]
    k = 0.9 * 0.5
    expected = [d[0] + k * d[1] + k**2 * d[2], d[1] + k * d[2], d[2]]
    torch.testing.assert_close(adv, torch.tensor(expected, dtype=torch.float64))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), gamma=st.floats(0.0, 1.0))
def test_gae_limits_are_td_and_monte_carlo(seed, gamma):
    g = torch.Generator().manual_seed(seed)
    r, v = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    next_v = torch.cat([v[:, 1:], torch.zeros(3, 1, dtype=torch.float64)], 1)
    td = gae_advantages(r, v, gamma=gamma, lam=0.0)
    torch.testing.assert_close(td, r + gamma * next_v - v)
    returns = torch.zeros_like(r)
    acc = torch.zeros(3, dtype=torch.float64)
    for t in reversed(range(7)):
        acc = r[:, t] + gamma * acc
        returns[:, t] = acc
    mc = gae_advantages(r, v, gamma=gamma, lam=1.0)
    torch.testing.assert_close(mc, returns - v)


def test_gae_terminal_reward_reaches_first_token():
    # Reward only at the end, V = 0: with gamma = 1 every token sees it,
    # decayed by lambda per step back.
    r = torch.tensor([0.0, 0.0, 0.0, 2.0])
    adv = gae_advantages(r, torch.zeros(4), gamma=1.0, lam=0.5)
    torch.testing.assert_close(adv, torch.tensor([0.25, 0.5, 1.0, 2.0]))


def test_gae_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        gae_advantages(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="lam"):
        gae_advantages(torch.zeros(3), torch.zeros(3), lam=1.5)
    with pytest.raises(ValueError, match="gamma"):
        gae_advantages(torch.zeros(3), torch.zeros(3), gamma=-0.1)


def test_rlhf_memory():
    n = 7e9
    ppo = rlhf_memory_bytes(n, reference=n, reward=n, value=n)
    # trained: policy, value at 16 B; frozen: reference, reward at 2 B
    assert ppo["policy"] == ppo["value"] == 112e9
    assert ppo["reference"] == ppo["reward"] == 14e9
    assert ppo["total"] == 252e9
    dpo = rlhf_memory_bytes(n, reference=n)
    assert dpo["total"] == 126e9 and dpo["value"] == 0
    with pytest.raises(ValueError, match="policy"):
        rlhf_memory_bytes(0)
    with pytest.raises(ValueError, match=">= 0"):
        rlhf_memory_bytes(1, value=-1)


def test_defaults_are_pinned():
    pc, pr, rc, rr = torch.randn(4, 5, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    torch.testing.assert_close(dpo_implicit_reward(pc, rc), dpo_implicit_reward(pc, rc, beta=0.1))
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr), dpo_loss(pc, pr, rc, rr, beta=0.1))
    r, v = torch.randn(2, 3, 6, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    torch.testing.assert_close(gae_advantages(r, v), gae_advantages(r, v, gamma=1.0, lam=0.95))


def test_grpo_loss_defaults_with_unequal_lengths_and_wide_ratios():
    g = torch.Generator().manual_seed(13)
    logp = -torch.rand(3, 5, generator=g, dtype=torch.float64)
    old = logp + 0.6 * torch.randn(3, 5, generator=g, dtype=torch.float64)  # ratios well outside [0.8, 1.2]
    ref = logp + 0.3 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    adv = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    expected = grpo_reference(
        logp.tolist(), old.tolist(), ref.tolist(), adv.tolist(), mask.tolist(), 0.2, 0.2, 0.04, False
    )
    assert math.isclose(grpo_loss(logp, old, ref, adv, mask).item(), expected, rel_tol=1e-9)


def test_sequence_logps_scores_token_id_zero():
    logits = torch.randn(1, 3, 4, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    labels = torch.tensor([[-100, 0, 2]])  # token id 0 is a real token, not padding
    logp = F.log_softmax(logits, -1)
    torch.testing.assert_close(sequence_logps(logits, labels), logp[0, 0, 0:1] + logp[0, 1, 2:3])


def test_gae_single_token_and_no_gradient_into_values():
    torch.testing.assert_close(gae_advantages(torch.tensor([2.0]), torch.tensor([0.5])), torch.tensor([1.5]))
    values = torch.tensor([0.3, -0.2, 0.1], requires_grad=True)
    assert not gae_advantages(torch.tensor([0.0, 0.0, 1.0]), values).requires_grad  # V is a baseline here


def test_ppo_clip_range_one_is_outside():
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="clip_range"):
        ppo_clip_loss(x, x, x, clip_range=1.0)


def test_rlhf_memory_defaults_count_only_the_policy():
    assert rlhf_memory_bytes(1) == {"policy": 16, "reference": 0, "reward": 0, "value": 0, "total": 16}

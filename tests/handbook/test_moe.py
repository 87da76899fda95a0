"""moe: routing, the Switch/Mixtral balancing loss, capacity, the MoE layer and DeepSeek-V3's bias balancing."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.ffn import SwiGLUFFN
from mllm_handbook.moe import (
    MoELayer,
    bias_balanced_routing,
    capacity_mask,
    expert_capacity,
    load_balancing_loss,
    moe_ffn_params,
    top_k_routing,
    update_routing_bias,
)


def mixtral_reference_loss(logits, top_k):
    """Hugging Face Transformers' Mixtral ``load_balancing_loss_func`` (one layer, no padding mask)."""
    routing_weights = logits.softmax(dim=-1)
    selected = routing_weights.topk(top_k, dim=-1).indices
    expert_mask = F.one_hot(selected, logits.shape[-1])  # [T, k, N]
    tokens_per_expert = expert_mask.float().mean(dim=0)  # [k, N]
    router_prob_per_expert = routing_weights.mean(dim=0)  # [N]
    return (tokens_per_expert * router_prob_per_expert.unsqueeze(0)).sum() * logits.shape[-1]


def switch_reference_loss(logits):
    """Switch Transformer eq. 4-6: N * sum_i f_i P_i with f_i the argmax fraction."""
    n = logits.shape[-1]
    probs = logits.softmax(-1)
    f = torch.stack([(probs.argmax(-1) == i).double().mean() for i in range(n)])
    return n * (f * probs.mean(0)).sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), tokens=st.integers(1, 13), experts=st.integers(2, 9), data=st.data())
def test_loss_matches_mixtral_implementation(seed, tokens, experts, data):
    top_k = data.draw(st.integers(1, experts))
    logits = torch.randn(tokens, experts, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(load_balancing_loss(logits, top_k), mixtral_reference_loss(logits, top_k))


def test_top1_loss_matches_switch():
    logits = 3 * torch.randn(37, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(load_balancing_loss(logits, 1), switch_reference_loss(logits))


@pytest.mark.parametrize(("experts", "top_k"), [(4, 1), (8, 2), (7, 3), (6, 6)])
def test_uniform_routing_gives_k(experts, top_k):
    tokens = 3 * experts  # each expert is first choice of 3 tokens; its k-window is balanced too
    logits = torch.zeros(tokens, experts, dtype=torch.float64)
    for t in range(tokens):
        logits[t, [(t + j) % experts for j in range(top_k)]] = 4.0
    assert math.isclose(load_balancing_loss(logits, top_k).item(), top_k, rel_tol=1e-9)


@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_collapsed_routing_approaches_n(top_k):
    logits = torch.zeros(10, 6, dtype=torch.float64)
    logits[:, 2] = 40.0
    assert math.isclose(load_balancing_loss(logits, top_k).item(), 6.0, rel_tol=1e-9)


def test_gradient_flows_through_probabilities_only():
    z = torch.randn(11, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4)).requires_grad_()
    load_balancing_loss(z, 2).backward()
    p = z.detach().softmax(-1)
    f = torch.bincount(p.topk(2, -1).indices.flatten(), minlength=5).double() / 11
    expected = 5 / 11 * p * (f - (p * f).sum(-1, keepdim=True))  # d/dz of N * sum f_i P_i, f constant
    torch.testing.assert_close(z.grad, expected)


def test_gradient_descent_moves_probability_off_the_overloaded_expert():
    z = torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    z[:, 0] += 2.0
    z.requires_grad_()
    load_balancing_loss(z, 1).backward()
    assert (z.grad[:, 0] > 0).all()  # a descent step lowers every token's logit for expert 0


def test_loss_input_checks():
    with pytest.raises(ValueError, match=r"\[tokens, experts\]"):
        load_balancing_loss(torch.zeros(2, 3, 4), 1)
    with pytest.raises(ValueError, match="top_k"):
        load_balancing_loss(torch.zeros(5, 4), 0)
    with pytest.raises(ValueError, match="top_k"):
        load_balancing_loss(torch.zeros(5, 4), 5)
    load_balancing_loss(torch.zeros(5, 4), 4)  # k = N is the valid edge


def test_top_k_routing():
    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0], [3.0, 0.0, 0.0, 2.5]], dtype=torch.float64)
    p = logits.softmax(-1)
    weights, experts = top_k_routing(logits, 2)
    assert experts.tolist() == [[1, 2], [0, 3]]
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(weights, torch.softmax(logits.gather(1, experts), -1))  # Mixtral's form
    raw, _ = top_k_routing(logits, 2, renormalize=False)
    torch.testing.assert_close(raw, p.gather(1, experts))
    torch.testing.assert_close(top_k_routing(logits, 2)[0], top_k_routing(logits, 2, renormalize=True)[0])
    with pytest.raises(ValueError, match="top_k"):
        top_k_routing(logits, 5)


def test_expert_capacity():
    assert expert_capacity(12, 4) == expert_capacity(12, 4, 1.0, 1) == 3
    assert expert_capacity(12, 4, 1.25) == 4  # ceil(3.75)
    assert expert_capacity(10, 4, 1.0, top_k=2) == 5
    with pytest.raises(ValueError, match="capacity_factor"):
        expert_capacity(12, 4, 0.0)


def test_capacity_mask_keeps_first_arrivals_first_choices_first():
    experts = torch.tensor([[0, 1], [0, 2], [0, 1], [1, 0]])
    keep = capacity_mask(experts, 3, capacity=2)
    # expert 0 queue: tokens 0, 1, 2 (first choices), then token 3 (second choice) -> keep 0 and 1
    # expert 1 queue: token 3 (first choice), then tokens 0, 2 (second choices) -> keep 3 and 0
    assert keep.tolist() == [[True, True], [True, True], [False, False], [True, False]]
    assert not capacity_mask(experts, 3, 0).any()
    assert capacity_mask(experts, 3, 8).all()
    with pytest.raises(ValueError, match="capacity"):
        capacity_mask(experts, 3, -1)


def brute_force_moe(layer, x):
    weights, experts = top_k_routing(layer.router(x), layer.top_k, layer.renormalize)
    rows = []
    for t in range(x.shape[0]):
        y = sum((s(x[t]) for s in layer.shared), torch.zeros_like(x[t]))
        for w, e in zip(weights[t], experts[t], strict=True):
            y = y + w * layer.experts[int(e)](x[t])
        rows.append(y)
    return torch.stack(rows)


@pytest.mark.parametrize(("top_k", "shared", "renormalize"), [(1, 0, False), (2, 0, True), (3, 2, True)])
def test_moe_layer_matches_per_token_loop(top_k, shared, renormalize):
    torch.manual_seed(6)
    layer = MoELayer(8, 12, num_experts=5, top_k=top_k, num_shared=shared, renormalize=renormalize).double()
    x = torch.randn(9, 8, dtype=torch.float64)
    y, logits = layer(x)
    torch.testing.assert_close(y, brute_force_moe(layer, x))
    torch.testing.assert_close(logits, layer.router(x))


def test_moe_defaults():
    layer = MoELayer(4, 6, num_experts=3, top_k=2)
    assert layer.renormalize and len(layer.shared) == 0
    with pytest.raises(ValueError, match="top_k"):
        MoELayer(4, 6, num_experts=3, top_k=4)


def test_one_expert_top1_is_dense_ffn():
    torch.manual_seed(7)
    layer = MoELayer(8, 16, num_experts=1, top_k=1).double()
    dense = SwiGLUFFN(8, 16).double()
    dense.load_state_dict(layer.experts[0].state_dict())
    x = torch.randn(5, 8, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], dense(x))


def test_moe_capacity_drops_overflow_to_zero():
    torch.manual_seed(8)
    layer = MoELayer(8, 16, num_experts=2, top_k=1).double()
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[0, 0] = 1.0
    x = torch.randn(6, 8, dtype=torch.float64)
    x[:, 0] = 5.0  # every token prefers expert 0
    y, _ = layer(x, capacity=2)
    assert (y[2:] == 0).all() and (y[:2] != 0).all()  # first two arrivals served, the rest dropped
    torch.testing.assert_close(layer(x, capacity=None)[0][:2], y[:2])


def test_moe_ffn_params_match_module():
    layer = MoELayer(8, 12, num_experts=5, top_k=2, num_shared=1)
    total, active = moe_ffn_params(8, 12, 5, 2, num_shared=1)
    assert total == sum(p.numel() for p in layer.parameters())
    assert active == 3 * (3 * 8 * 12) + 8 * 5  # 2 routed + 1 shared SwiGLU experts, and the router
    assert moe_ffn_params(8, 12, 5, 2) == moe_ffn_params(8, 12, 5, 2, num_shared=0)


def test_bias_selects_but_does_not_weigh():
    scores = torch.tensor([[0.9, 0.8, 0.1], [0.7, 0.2, 0.6]])
    weights, experts = bias_balanced_routing(scores, torch.zeros(3), 2)
    assert experts.tolist() == [[0, 1], [0, 2]]
    weights, experts = bias_balanced_routing(scores, torch.tensor([-1.0, 0.0, 0.0]), 2)
    assert experts.tolist() == [[1, 2], [2, 1]]  # the bias moved expert 0 out of both top-2 sets
    torch.testing.assert_close(weights, torch.tensor([[0.8, 0.1], [0.6, 0.2]]) / torch.tensor([[0.9], [0.8]]))
    with pytest.raises(ValueError, match="top_k"):
        bias_balanced_routing(scores, torch.zeros(3), 0)


def test_bias_update_sign_and_default_gamma():
    experts = torch.tensor([[0], [0], [0], [1], [2], [2]])  # loads 3, 1, 2, 0; mean 1.5
    bias = torch.tensor([0.5, 0.0, 0.0, 0.0])
    new = update_routing_bias(bias, experts, 4, gamma=0.1)
    torch.testing.assert_close(new, torch.tensor([0.4, 0.1, -0.1, 0.1]))
    torch.testing.assert_close(
        update_routing_bias(bias, experts, 4), update_routing_bias(bias, experts, 4, 1e-3)
    )
    balanced = torch.tensor([[0], [1], [2], [3]])
    torch.testing.assert_close(update_routing_bias(bias, balanced, 4), bias)  # at the mean: unchanged


def test_bias_balancing_evens_out_a_skewed_router():
    g = torch.Generator().manual_seed(9)
    scores = torch.sigmoid(torch.randn(200, 4, generator=g) + torch.tensor([3.0, 0.0, 0.0, 0.0]))
    bias = torch.zeros(4)
    for _ in range(200):
        bias = update_routing_bias(bias, bias_balanced_routing(scores, bias, 1)[1], 4, 0.01)
    load = torch.bincount(bias_balanced_routing(scores, bias, 1)[1].flatten(), minlength=4)
    assert load.max() - load.min() <= 20  # from ~all tokens on expert 0 to within 10 % of 50 each

"""attention: SDPA, MHA, GQA and the tiled FlashAttention forward against torch, autograd and the papers."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from mllm_handbook.attention import (
    attention_backward,
    attention_matmul_flops,
    attention_weights,
    flash_attention,
    flash_attention_forward,
    flash_attention_hbm_elements,
    grouped_query_attention,
    merge_heads,
    multi_head_attention,
    probs_from_lse,
    scaled_dot_product_attention,
    softmax_jacobian,
    split_heads,
    standard_attention_hbm_elements,
)
from mllm_handbook.masks import causal_mask, padding_mask


def _qkv(seed, lq=5, lk=6, d=4, dv=3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, n, m, generator=g, dtype=dtype) for n, m in ((lq, d), (lk, d), (lk, dv))]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), lq=st.integers(1, 6), lk=st.integers(1, 6))
def test_matches_torch_with_and_without_masks(seed, lq, lk):
    q, k, v = _qkv(seed, lq, lk)
    mask = torch.rand(lq, lk, generator=torch.Generator().manual_seed(seed)) > 0.3
    for kwargs, ref in (
        ({}, {}),
        ({"mask": mask}, {"attn_mask": mask}),
        ({"is_causal": True}, {"is_causal": True}),
    ):
        torch.testing.assert_close(
            scaled_dot_product_attention(q, k, v, **kwargs), F.scaled_dot_product_attention(q, k, v, **ref)
        )


def test_fully_masked_row_gives_zeros_like_torch():  # PyTorch 2.13 (pinned)
    q, k, v = _qkv(0)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[2] = False
    out = scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(out[..., 2, :] == 0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_weights_rows_sum_to_one_and_respect_the_mask():
    q, k, _ = _qkv(1, lq=4, lk=4)
    w = attention_weights(q, k, is_causal=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 4, dtype=torch.float64))
    assert torch.all(w[..., ~causal_mask(4)] == 0)


def test_causal_output_at_t_ignores_later_tokens():
    q, k, v = _qkv(2, lq=6, lk=6)
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    k2, v2 = k.clone(), v.clone()
    k2[..., 3:, :] += 5.0
    v2[..., 3:, :] -= 5.0
    out2 = scaled_dot_product_attention(q, k2, v2, is_causal=True)
    torch.testing.assert_close(out[..., :3, :], out2[..., :3, :])
    assert not torch.allclose(out[..., 3:, :], out2[..., 3:, :])


@pytest.mark.parametrize("batch_first_len", [(1, 1), (4, 7)])
def test_multi_head_attention_matches_nn_module(batch_first_len):
    lq, lk = batch_first_len
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, bias=False, batch_first=True).double()
    x, y = torch.randn(3, lq, 8, dtype=torch.float64), torch.randn(3, lk, 8, dtype=torch.float64)
    ours = multi_head_attention(x, y, mha.in_proj_weight, mha.out_proj.weight, num_heads=2)
    torch.testing.assert_close(ours, mha(x, y, y, need_weights=False)[0])


def test_multi_head_self_attention_with_causal_mask_matches_nn_module():
    torch.manual_seed(1)
    mha = torch.nn.MultiheadAttention(8, 4, bias=False, batch_first=True).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    ours = multi_head_attention(x, x, mha.in_proj_weight, mha.out_proj.weight, 4, mask=causal_mask(5))
    ref = mha(x, x, x, attn_mask=~causal_mask(5), need_weights=False)[0]  # nn.MHA: True = NOT allowed
    torch.testing.assert_close(ours, ref)


def test_bad_inputs_raise():
    q, k, v = _qkv(3)
    with pytest.raises(ValueError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=torch.zeros(5, 6))
    with pytest.raises(ValueError, match="either mask or is_causal"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 6, dtype=torch.bool), is_causal=True)
    x = torch.randn(1, 2, 8)
    with pytest.raises(ValueError, match="must divide"):
        multi_head_attention(x, x, torch.randn(24, 8), torch.randn(8, 8), num_heads=3)
    with pytest.raises(ValueError, match="in_proj_weight"):
        multi_head_attention(x, x, torch.randn(8, 8), torch.randn(8, 8), num_heads=2)


# --- heads: split, merge, MHA with is_causal and padding, parameters ---


def test_split_heads_slices_the_model_dim_per_token():
    x = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(4))
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for h in range(3):
        torch.testing.assert_close(heads[:, h], x[..., 4 * h : 4 * (h + 1)])
    torch.testing.assert_close(merge_heads(heads), x)
    assert not torch.equal(x.reshape(2, 3, 5, 4), heads)  # reshape without the transpose mixes tokens


def test_multi_head_attention_is_causal_and_padding_match_nn_module():
    torch.manual_seed(2)
    mha = torch.nn.MultiheadAttention(12, 3, bias=False, batch_first=True).double()
    x = torch.randn(3, 6, 12, dtype=torch.float64)
    w, wo = mha.in_proj_weight, mha.out_proj.weight
    ref = mha(x, x, x, attn_mask=~causal_mask(6), need_weights=False)[0]
    torch.testing.assert_close(multi_head_attention(x, x, w, wo, 3, is_causal=True), ref)
    keep = padding_mask(torch.tensor([6, 4, 1]), 6)  # right padding: True = real token
    ours = multi_head_attention(x, x, w, wo, 3, mask=causal_mask(6) & keep[:, None, None, :])
    ref = mha(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=~keep, need_weights=False)[0]
    torch.testing.assert_close(ours, ref)


def test_multi_head_attention_default_is_not_causal():
    torch.manual_seed(3)
    x, w, wo = torch.randn(2, 4, 8), torch.randn(24, 8), torch.randn(8, 8)
    torch.testing.assert_close(
        multi_head_attention(x, x, w, wo, 2), multi_head_attention(x, x, w, wo, 2, is_causal=False)
    )
    assert not torch.allclose(
        multi_head_attention(x, x, w, wo, 2), multi_head_attention(x, x, w, wo, 2, None, True)
    )


@pytest.mark.parametrize("num_heads", [1, 2, 4, 8])
def test_parameter_count_does_not_depend_on_heads(num_heads):
    mha = torch.nn.MultiheadAttention(64, num_heads, bias=False)
    assert sum(p.numel() for p in mha.parameters()) == 4 * 64 * 64


def test_split_heads_bad_inputs():
    with pytest.raises(ValueError, match="must divide"):
        split_heads(torch.randn(1, 2, 8), 3)
    assert split_heads(torch.randn(1, 2, 8), 8).shape == (1, 8, 2, 1)  # valid edge: head dim 1


# --- softmax Jacobian ---


def test_softmax_jacobian_matches_autograd():
    s = torch.randn(3, 5, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    p = s.softmax(-1)
    jac = softmax_jacobian(p)
    for row in range(3):
        ref = torch.autograd.functional.jacobian(lambda z: z.softmax(-1), s[row])
        torch.testing.assert_close(jac[row], ref)
    torch.testing.assert_close(
        jac.sum(-1), torch.zeros(3, 5, dtype=torch.float64)
    )  # softmax is shift-invariant


def test_softmax_jacobian_vanishes_when_saturated():
    one_hot = torch.tensor([0.0, 1.0, 0.0])
    torch.testing.assert_close(softmax_jacobian(one_hot), torch.zeros(3, 3))


# --- grouped-query attention ---


def _gqa_inputs(h_q, h_kv, lq=5, lk=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, h_q, lq, 4, generator=g, dtype=torch.float64)
    k = torch.randn(2, h_kv, lk, 4, generator=g, dtype=torch.float64)
    v = torch.randn(2, h_kv, lk, 3, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("h_kv", [6, 3, 2, 1])
def test_gqa_matches_torch_enable_gqa(h_kv):
    q, k, v = _gqa_inputs(6, h_kv)
    mask = torch.rand(2, 1, 5, 7, generator=torch.Generator().manual_seed(1)) > 0.3
    for kwargs, ref in (
        ({}, {}),
        ({"mask": mask}, {"attn_mask": mask}),
        ({"mask": mask[0, 0]}, {"attn_mask": mask[0, 0]}),
        ({"is_causal": True}, {"is_causal": True}),
    ):
        expected = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **ref)
        torch.testing.assert_close(grouped_query_attention(q, k, v, **kwargs), expected)


def test_gqa_with_all_kv_heads_is_mha_and_with_one_is_mqa():
    q, k, v = _gqa_inputs(4, 4, seed=2)
    torch.testing.assert_close(grouped_query_attention(q, k, v), scaled_dot_product_attention(q, k, v))
    q, k, v = _gqa_inputs(4, 1, seed=3)
    expected = scaled_dot_product_attention(q, k.expand(-1, 4, -1, -1), v.expand(-1, 4, -1, -1))
    torch.testing.assert_close(grouped_query_attention(q, k, v), expected)


def test_gqa_query_heads_share_kv_heads_in_consecutive_groups():
    q, k, v = _gqa_inputs(6, 2, seed=4)
    out = grouped_query_attention(q, k, v)
    v2 = v.clone()
    v2[:, 1] += 1.0  # change K/V head 1: only query heads 3, 4, 5 may change
    changed = (grouped_query_attention(q, k, v2) - out).abs().amax(dim=(0, 2, 3)) > 0
    assert changed.tolist() == [False, False, False, True, True, True]


def test_gqa_defaults_and_bad_inputs():
    q, k, v = _gqa_inputs(4, 2, seed=5)
    torch.testing.assert_close(
        grouped_query_attention(q, k, v), grouped_query_attention(q, k, v, mask=None, is_causal=False)
    )
    with pytest.raises(ValueError, match="divisible"):
        grouped_query_attention(*_gqa_inputs(6, 4))


# --- FlashAttention: tiled forward, log-sum-exp, recomputation, cost models ---


def _flash_inputs(lq, lk, d=8, dv=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 3, lq, d, generator=g, dtype=torch.float64)
    k = torch.randn(2, 3, lk, d, generator=g, dtype=torch.float64) + 0.5  # non-zero mean: larger scores
    v = torch.randn(2, 3, lk, dv, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("block_size", [1, 7, 16, 64, 200])
@pytest.mark.parametrize(("lq", "lk"), [(37, 37), (37, 50), (50, 23)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_flash_attention_matches_torch(block_size, lq, lk, is_causal):
    q, k, v = _flash_inputs(lq, lk, seed=block_size + lq)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    torch.testing.assert_close(flash_attention(q, k, v, block_size, is_causal), expected)


def test_flash_attention_default_block_size_is_64():
    q, k, v = _flash_inputs(150, 150)
    assert torch.equal(flash_attention(q, k, v), flash_attention(q, k, v, block_size=64, is_causal=False))


def test_flash_attention_lse_is_the_row_logsumexp():
    q, k, v = _flash_inputs(29, 29, seed=7)
    scores = q @ k.transpose(-2, -1) / math.sqrt(8)
    for is_causal in (False, True):
        _, lse = flash_attention_forward(q, k, v, block_size=8, is_causal=is_causal)
        s = scores.masked_fill(~causal_mask(29), float("-inf")) if is_causal else scores
        torch.testing.assert_close(lse, s.logsumexp(-1))


def test_flash_attention_survives_scores_that_overflow_exp():
    q, k, v = _flash_inputs(20, 20, seed=8)
    q, k = q * 10, k * 10  # scores of order 100: exp overflows float32 without the running max
    q32, k32, v32 = q.float(), k.float(), v.float()
    assert torch.exp(q32 @ k32.transpose(-2, -1) / math.sqrt(8)).isinf().any()
    expected = F.scaled_dot_product_attention(q, k, v).float()
    torch.testing.assert_close(flash_attention(q32, k32, v32, block_size=6), expected, rtol=1e-4, atol=1e-4)


def test_flash_attention_autograd_matches_torch():
    q, k, v = (t.requires_grad_() for t in _flash_inputs(21, 21, seed=9))
    grad = torch.randn(2, 3, 21, 5, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    ours = torch.autograd.grad(flash_attention(q, k, v, 8, True), (q, k, v), grad)
    ref = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v), grad)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


class _Probe(TorchDispatchMode):
    """Records matmul FLOPs and the shapes of every tensor the wrapped code creates."""

    def __init__(self):
        super().__init__()
        self.flops, self.shapes = 0, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in (torch.ops.aten.bmm.default, torch.ops.aten.mm.default):
            self.flops += 2 * out.numel() * args[0].shape[-1]
        if isinstance(out, torch.Tensor):
            self.shapes.append(tuple(out.shape))
        return out


def test_flash_attention_never_forms_the_score_matrix():
    q, k, v = _flash_inputs(96, 80)
    with _Probe() as standard:
        scaled_dot_product_attention(q, k, v)
    assert any(s[-2:] == (96, 80) for s in standard.shapes)  # the probe sees the full matrix here
    with _Probe() as tiled:
        flash_attention(q, k, v, block_size=32)
    assert not any(s[-2:] == (96, 80) for s in tiled.shapes)
    per_head = [math.prod(s[2:]) for s in tiled.shapes if len(s) == 4]
    assert max(per_head) == 32 * 32  # the largest thing per head is one 32 x 32 score tile


@pytest.mark.parametrize("block_size", [3, 8, 16, 64, None])
@pytest.mark.parametrize(("lq", "lk"), [(40, 40), (23, 37), (37, 23)])
def test_matmul_flops_model_counts_what_the_code_does(block_size, lq, lk):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, n, 8, generator=g) for n in (lq, lk, lk))
    assert attention_matmul_flops(lq, lk, 8) == 4 * lq * lk * 8  # default: untiled
    for is_causal in (False, True):
        with _Probe() as probe:
            if block_size is None:
                scaled_dot_product_attention(q, k, v, is_causal=is_causal)
            else:
                flash_attention(q, k, v, block_size, is_causal)
        assert probe.flops == attention_matmul_flops(lq, lk, 8, block_size, is_causal)


def test_causal_tiles_skip_the_upper_triangle():
    # 128 = 4 tiles of 32 per side: causal visits 4 + 3 + 2 + 1 = 10 of the 16 tiles
    assert (
        attention_matmul_flops(128, 128, 16, 32, is_causal=True) * 16
        == attention_matmul_flops(128, 128, 16) * 10
    )
    assert attention_matmul_flops(128, 128, 16, 32) == attention_matmul_flops(128, 128, 16)


def test_probs_from_lse_and_backward_match_autograd():
    for is_causal, (lq, lk) in ((False, (13, 17)), (True, (17, 17)), (True, (11, 17))):
        q, k, v = (t.requires_grad_() for t in _flash_inputs(lq, lk, seed=lq + lk))
        out, lse = flash_attention_forward(q.detach(), k.detach(), v.detach(), 4, is_causal)
        weights = attention_weights(q.detach(), k.detach(), is_causal=is_causal)
        torch.testing.assert_close(probs_from_lse(q.detach(), k.detach(), lse, is_causal), weights)
        grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        ref = torch.autograd.grad(
            F.scaled_dot_product_attention(q, k, v, is_causal=is_causal), (q, k, v), grad_out
        )
        ours = attention_backward(q.detach(), k.detach(), v.detach(), out, lse, grad_out, is_causal)
        for a, b in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b)


def test_attention_backward_default_is_not_causal():
    q, k, v = _flash_inputs(9, 9, seed=3)
    out, lse = flash_attention_forward(q, k, v)
    g = torch.ones_like(out)
    for a, b in zip(
        attention_backward(q, k, v, out, lse, g),
        attention_backward(q, k, v, out, lse, g, is_causal=False),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(probs_from_lse(q, k, lse), probs_from_lse(q, k, lse, is_causal=False))


def test_hbm_models_by_hand():
    assert standard_attention_hbm_elements(4, 2) == 4 * 4 * 2 + 4 * 16
    # 2Nd (Q in, O out) + N (LSE) + ceil(4/3) = 2 passes over K and V (2Nd each)
    assert flash_attention_hbm_elements(4, 2, 3) == 16 + 4 + 2 * 16
    assert flash_attention_hbm_elements(4, 2, 4) == 16 + 4 + 16  # one query block: K and V read once
    n, d = 4096, 64
    assert flash_attention_hbm_elements(n, d, 128) < standard_attention_hbm_elements(n, d)


def test_flash_bad_block_sizes():
    q, k, v = _flash_inputs(5, 5)
    for fn in (
        lambda: flash_attention(q, k, v, block_size=0),
        lambda: attention_matmul_flops(5, 5, 8, block_size=0),
        lambda: flash_attention_hbm_elements(5, 8, 0),
    ):
        with pytest.raises(ValueError, match="block_size must be >= 1"):
            fn()
    torch.testing.assert_close(
        flash_attention(q, k, v, block_size=1), F.scaled_dot_product_attention(q, k, v)
    )
    assert flash_attention_hbm_elements(4, 2, 1) == 16 + 4 + 4 * 16  # valid edge: one row per block
    assert attention_matmul_flops(3, 3, 2, block_size=1) == 4 * 3 * 3 * 2
    assert attention_matmul_flops(3, 3, 2, block_size=1, is_causal=True) == 4 * (1 + 2 + 3) * 2


def test_causal_on_three_dim_inputs_with_unequal_lengths():
    # [batch, L, d] with L_q = 4, L_k = 6, d = 5: every dim differs, so no axis can stand in for another
    g = torch.Generator().manual_seed(11)
    q, k, v = (torch.randn(2, n, 5, generator=g, dtype=torch.float64) for n in (4, 6, 6))
    for is_causal in (False, True):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        torch.testing.assert_close(scaled_dot_product_attention(q, k, v, is_causal=is_causal), expected)
        ref_weights = torch.softmax(
            (q @ k.transpose(-2, -1) / math.sqrt(5)).masked_fill(
                is_causal & ~causal_mask(4, 6), float("-inf")
            ),
            dim=-1,
        )
        torch.testing.assert_close(attention_weights(q, k, is_causal=is_causal), ref_weights)


def test_flash_forward_backward_and_lse_on_three_dim_inputs():
    # [batch, L, d] with L = 13 queries, S = 17 keys, d = 5, d_v = 3: no two axes share a size
    g = torch.Generator().manual_seed(12)
    q = torch.randn(2, 13, 5, generator=g, dtype=torch.float64)
    k = torch.randn(2, 17, 5, generator=g, dtype=torch.float64)
    v = torch.randn(2, 17, 3, generator=g, dtype=torch.float64)
    grad_out = torch.randn(2, 13, 3, generator=g, dtype=torch.float64)
    for is_causal, block_size in ((False, 4), (True, 4), (True, 6), (True, 1)):
        out, lse = flash_attention_forward(q, k, v, block_size, is_causal)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=is_causal))
        scores = (q @ k.transpose(-2, -1) / math.sqrt(5)).masked_fill(
            is_causal & ~causal_mask(13, 17), -math.inf
        )
        torch.testing.assert_close(lse, scores.logsumexp(-1))
        torch.testing.assert_close(probs_from_lse(q, k, lse, is_causal), scores.softmax(-1))
        qr, kr, vr = (t.clone().requires_grad_() for t in (q, k, v))
        ref = torch.autograd.grad(
            F.scaled_dot_product_attention(qr, kr, vr, is_causal=is_causal), (qr, kr, vr), grad_out
        )
        for a, b in zip(attention_backward(q, k, v, out, lse, grad_out, is_causal), ref, strict=True):
            torch.testing.assert_close(a, b)


def test_attention_weights_and_flash_forward_defaults():
    q, k, v = _flash_inputs(150, 150, seed=4)
    torch.testing.assert_close(attention_weights(q, k), attention_weights(q, k, mask=None, is_causal=False))
    assert torch.equal(attention_weights(q, k), torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1))
    with _Probe() as probe:
        out, _ = flash_attention_forward(q, k, v)
    assert max(math.prod(s[2:]) for s in probe.shapes if len(s) == 4) == 64 * 64  # default tiles: 64 x 64
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))  # default: not causal


@pytest.mark.parametrize("block_size", [1, 4])
def test_causal_tiles_stop_at_the_diagonal_on_three_dim_inputs(block_size):
    # [batch 2, L 9, d 5]: the causal loop visits the key tiles up to each query block's last row, no more
    q, k, v = (torch.randn(2, 9, 5, generator=torch.Generator().manual_seed(n)) for n in range(3))
    with _Probe() as probe:
        flash_attention(q, k, v, block_size, is_causal=True)
    assert probe.flops == 2 * attention_matmul_flops(9, 9, 5, block_size, is_causal=True)

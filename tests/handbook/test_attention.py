"""attention: SDPA against torch, the masking conventions, and MHA against nn.MultiheadAttention."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.attention import attention_weights, multi_head_attention, scaled_dot_product_attention
from mllm_handbook.masks import causal_mask


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


def test_fully_masked_row_gives_zeros_like_torch():
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
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="either mask or is_causal"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 6, dtype=torch.bool), is_causal=True)
    with pytest.raises(ValueError, match="same last dim"):
        scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="same length L_k"):
        scaled_dot_product_attention(q, k, v[..., :2, :])
    with pytest.raises(ValueError, match="same rank"):
        scaled_dot_product_attention(q, k[0], v[0])
    with pytest.raises(ValueError, match="floating-point"):
        scaled_dot_product_attention(q.long(), k, v)
    x = torch.randn(1, 2, 8)
    with pytest.raises(ValueError, match="must divide"):
        multi_head_attention(x, x, torch.randn(24, 8), torch.randn(8, 8), num_heads=3)
    with pytest.raises(ValueError, match="in_proj_weight"):
        multi_head_attention(x, x, torch.randn(8, 8), torch.randn(8, 8), num_heads=2)

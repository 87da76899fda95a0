"""compression: distillation loss (Hinton et al.), per-channel int8 vs torch.quantize_per_channel, KV cache."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.compression import (
    causal_self_attention,
    dequantize_per_channel,
    kv_cache_bytes,
    kv_cache_step,
    quantize_per_channel_int8,
)
from mllm_handbook.losses import distillation_loss


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), temperature=st.floats(0.5, 8.0))
def test_distillation_matches_kl_div(seed, temperature):
    g = torch.Generator().manual_seed(seed)
    s, t = (
        torch.randn(4, 6, generator=g, dtype=torch.float64),
        torch.randn(4, 6, generator=g, dtype=torch.float64),
    )
    expected = temperature**2 * F.kl_div(
        F.log_softmax(s / temperature, -1),
        F.log_softmax(t / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )
    torch.testing.assert_close(distillation_loss(s, t, temperature), expected)


def test_distillation_zero_for_identical_logits_and_no_teacher_grad():
    t = torch.randn(3, 5, requires_grad=True)
    assert distillation_loss(t.detach().clone(), t, 2.0).abs().item() < 1e-6
    s = torch.randn(3, 5, requires_grad=True)
    distillation_loss(s, t, 2.0).backward()
    assert t.grad is None and s.grad is not None


def test_distillation_gradient_at_high_temperature_matches_logit_matching():
    # Hinton et al. §2.1: for large T (zero-mean logits), T^2 * grad -> (s - t) / (N * classes) per logit.
    s, t = torch.tensor([[0.5, -0.5, 0.0]], requires_grad=True), torch.tensor([[0.2, 0.1, -0.3]])
    distillation_loss(s, t, 100.0).backward()
    torch.testing.assert_close(s.grad, (s.detach() - t) / 3, atol=1e-3, rtol=1e-2)


def test_distillation_bad_inputs():
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.randn(2, 3), torch.randn(2, 3), -1.0)


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), axis=st.sampled_from([0, 1, -1]))
def test_int8_matches_torch_quantize_per_channel(seed, axis):
    w = torch.randn(6, 10, generator=torch.Generator().manual_seed(seed))
    q, scale = quantize_per_channel_int8(w, axis=axis)
    ref = torch.quantize_per_channel(
        w, scale.double(), torch.zeros(len(scale), dtype=torch.long), axis % 2, torch.qint8
    )
    torch.testing.assert_close(q, ref.int_repr())
    torch.testing.assert_close(dequantize_per_channel(q, scale, axis), ref.dequantize())
    shape = [-1, 1] if axis == 0 else [1, -1]
    assert ((dequantize_per_channel(q, scale, axis) - w).abs() <= scale.reshape(shape) / 2 + 1e-7).all()


def test_int8_zero_channel_and_extremes():
    w = torch.tensor([[0.0, 0.0], [1.0, -0.5]])
    q, scale = quantize_per_channel_int8(w)
    torch.testing.assert_close(scale, torch.tensor([1.0, 1 / 127]))
    assert q[1].tolist() == [127, -64] and q[0].tolist() == [0, 0]  # -63.5 rounds half-to-even


def test_int8_bad_inputs():
    with pytest.raises(ValueError, match="axis 2 out of range"):
        quantize_per_channel_int8(torch.randn(3, 4), axis=2)
    with pytest.raises(ValueError, match="floating-point"):
        quantize_per_channel_int8(torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="must be int8"):
        dequantize_per_channel(torch.ones(3, 4), torch.ones(3))


def test_kv_cache_decoding_equals_full_recompute():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 8)
    w_q, w_k, w_v = (torch.randn(8, 4) for _ in range(3))
    full = causal_self_attention(x, w_q, w_k, w_v)
    ref = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)
    torch.testing.assert_close(full, ref)
    cache, outs = None, []
    for t in range(7):
        out, cache = kv_cache_step(x[:, t : t + 1], w_q, w_k, w_v, cache)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, dim=1), full)
    assert cache[0].shape == (2, 7, 4)


def test_kv_cache_bad_inputs():
    w = torch.randn(8, 4)
    with pytest.raises(ValueError, match="feeds one token"):
        kv_cache_step(torch.randn(2, 3, 8), w, w, w)


def test_kv_cache_bytes():
    # 32 layers, 32 KV heads of dim 128, 4096 tokens, fp16 -> 2 GiB (a LLaMA-2-7B-sized model)
    assert kv_cache_bytes(32, 32, 128, 4096) == 2 * 2**30
    assert kv_cache_bytes(32, 8, 128, 4096) == 2**29  # GQA with 8 KV heads: 4x less
    with pytest.raises(ValueError, match="must be > 0"):
        kv_cache_bytes(0, 8, 128, 4096)

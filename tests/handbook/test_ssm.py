"""ssm: linear attention (parallel = recurrent = the paper's sums), SSM scan = convolution, Mamba's scan."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.ssm import (
    causal_linear_attention,
    elu_feature_map,
    linear_attention_recurrent,
    mamba_discretize,
    mamba_state_bytes,
    ssm_convolution,
    ssm_kernel,
    ssm_scan,
)


def qkv(seed, shape=(2, 3, 7), d_k=4, d_v=5):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(*shape, d_k, generator=g, dtype=torch.float64),
        torch.randn(*shape, d_k, generator=g, dtype=torch.float64),
        torch.randn(*shape, d_v, generator=g, dtype=torch.float64) + 1.0,  # non-zero mean values
    )


def test_feature_map_is_elu_plus_one_and_positive():
    x = torch.linspace(-8, 8, 33, dtype=torch.float64)
    torch.testing.assert_close(elu_feature_map(x), torch.where(x > 0, x + 1, torch.exp(x)))
    assert (elu_feature_map(x) > 0).all()


def test_parallel_matches_double_sum_definition():
    q, k, v = qkv(0, shape=(5,), d_k=3, d_v=2)
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    rows = []
    for i in range(5):
        w = torch.stack([fq[i] @ fk[j] for j in range(i + 1)])
        rows.append((w[:, None] * v[: i + 1]).sum(0) / w.sum())
    torch.testing.assert_close(causal_linear_attention(q, k, v), torch.stack(rows))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), length=st.integers(1, 9))
def test_recurrent_matches_parallel(seed, length):
    q, k, v = qkv(seed, shape=(2, 3, length))
    y, S, z = linear_attention_recurrent(q, k, v)
    torch.testing.assert_close(y, causal_linear_attention(q, k, v))
    fk = elu_feature_map(k)
    torch.testing.assert_close(S, fk.transpose(-2, -1) @ v)  # S_L = sum_t phi(k_t) v_t^T
    torch.testing.assert_close(z, fk.sum(-2))
    assert S.shape == (2, 3, 4, 5) and z.shape == (2, 3, 4)


def test_first_position_returns_first_value_and_custom_feature_map():
    q, k, v = qkv(1)
    torch.testing.assert_close(causal_linear_attention(q, k, v)[..., 0, :], v[..., 0, :])
    y_exp = causal_linear_attention(q, k, v, feature_map=torch.exp)
    torch.testing.assert_close(linear_attention_recurrent(q, k, v, feature_map=torch.exp)[0], y_exp)
    # phi = exp factorises exp(q.k) only coordinate-wise; it is not softmax attention
    softmax = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0)
    assert (y_exp - softmax).abs().max() > 1e-3
    torch.testing.assert_close(
        causal_linear_attention(q, k, v), causal_linear_attention(q, k, v, feature_map=elu_feature_map)
    )


def ssm_params(seed, channels=3, state=4):
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(channels, state, generator=g, dtype=torch.float64) * 0.9 + 0.05  # stable: 0 < A < 1
    B = torch.randn(channels, state, generator=g, dtype=torch.float64)
    C = torch.randn(channels, state, generator=g, dtype=torch.float64)
    return A, B, C


def test_scan_matches_explicit_loop():
    A, B, C = ssm_params(2, channels=2, state=3)
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    expected = torch.zeros_like(x)
    for b in range(2):
        for d in range(2):
            h = torch.zeros(3, dtype=torch.float64)
            for t in range(5):
                h = A[d] * h + B[d] * x[b, t, d]
                expected[b, t, d] = C[d] @ h
    torch.testing.assert_close(ssm_scan(x, A, B, C), expected)


def test_kernel_values():
    A = torch.tensor([[0.5, -0.25]], dtype=torch.float64)
    B = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    C = torch.tensor([[1.0, 4.0]], dtype=torch.float64)
    # K_i = 1*2*0.5^i + 4*1*(-0.25)^i
    expected = torch.tensor([[6.0, 0.0, 0.75, 0.1875]], dtype=torch.float64)
    torch.testing.assert_close(ssm_kernel(A, B, C, 4), expected)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), length=st.integers(1, 11))
def test_convolution_matches_scan(seed, length):
    A, B, C = ssm_params(seed)
    x = torch.randn(2, length, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    torch.testing.assert_close(ssm_convolution(x, A, B, C), ssm_scan(x, A, B, C))


def test_convolution_rejects_time_varying_parameters():
    A, B, C = ssm_params(3)
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    A_t = A.expand(1, 4, 3, 4)
    with pytest.raises(ValueError, match="time-invariant"):
        ssm_convolution(x, A_t, B, C)


def selective_scan_reference(u, delta, A, B, C):
    """The Mamba repository's ``selective_scan_ref`` (no D, no z, no delta bias), in its (B, D, L) layout."""
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = A.new_zeros(u.shape[0], A.shape[0], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    return torch.stack(ys, dim=2)


def test_mamba_scan_matches_reference_implementation():
    g = torch.Generator().manual_seed(4)
    batch, length, channels, state = 2, 6, 3, 4
    x = torch.randn(batch, length, channels, generator=g, dtype=torch.float64)
    delta = F.softplus(torch.randn(batch, length, channels, generator=g, dtype=torch.float64))
    A = -torch.rand(channels, state, generator=g, dtype=torch.float64) - 0.5
    B = torch.randn(batch, length, state, generator=g, dtype=torch.float64)
    C = torch.randn(batch, length, state, generator=g, dtype=torch.float64)
    y = ssm_scan(x, *mamba_discretize(delta, A, B, C))
    ref = selective_scan_reference(
        x.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2)
    )
    torch.testing.assert_close(y, ref.transpose(1, 2))
    A_bar, B_bar, C_full = mamba_discretize(delta, A, B, C)
    assert A_bar.shape == B_bar.shape == C_full.shape == (batch, length, channels, state)
    assert ((A_bar > 0) & (A_bar < 1)).all()  # negative A and positive delta: a decaying state


def test_mamba_with_constant_parameters_is_a_convolution():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 8, 2, generator=g, dtype=torch.float64)
    A = -torch.rand(2, 3, generator=g, dtype=torch.float64) - 0.1
    B, C = torch.randn(2, 3, generator=g, dtype=torch.float64).unbind(0)
    delta = torch.full((1, 8, 2), 0.3, dtype=torch.float64)
    A_bar, B_bar, C_t = mamba_discretize(delta, A, B.expand(1, 8, 3), C.expand(1, 8, 3))
    lti = ssm_convolution(x, A_bar[0, 0], B_bar[0, 0], C_t[0, 0])
    torch.testing.assert_close(ssm_scan(x, A_bar, B_bar, C_t), lti)


def test_mamba_state_bytes():
    # Mamba-2.8B: 64 blocks, d_model 2560 -> d_inner 5120, N = 16, conv width 4
    assert mamba_state_bytes(64, 5120) == 64 * 5120 * (16 + 4) * 2 == 13_107_200
    assert mamba_state_bytes(64, 5120) == mamba_state_bytes(64, 5120, 16, 4, 2)
    assert mamba_state_bytes(1, 10, d_state=3, d_conv=0, bytes_per_value=4) == 120

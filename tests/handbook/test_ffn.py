"""ffn: GELU and Swish against torch.nn.functional, the SwiGLU FFN against its formula, LLaMA's hidden width."""

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.ffn import SwiGLUFFN, gelu, llama_ffn_hidden_size, swish

X = torch.linspace(-6.0, 6.0, 241, dtype=torch.float64)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate):
    torch.testing.assert_close(gelu(X, approximate), F.gelu(X, approximate=approximate))


def test_gelu_default_is_exact_erf_form():
    torch.testing.assert_close(gelu(X), gelu(X, approximate="none"))
    assert (gelu(X) - gelu(X, approximate="tanh")).abs().max() > 1e-5  # the two forms really differ


def test_gelu_is_x_times_normal_cdf():
    normal = torch.distributions.Normal(0.0, 1.0)
    torch.testing.assert_close(gelu(X), X * normal.cdf(X))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be"):
        gelu(X, approximate="sigmoid")


def test_swish_default_is_silu():
    torch.testing.assert_close(swish(X), F.silu(X))
    torch.testing.assert_close(swish(X), swish(X, beta=1.0))


def test_swish_beta():
    torch.testing.assert_close(swish(X, beta=2.5), X * torch.sigmoid(2.5 * X))
    torch.testing.assert_close(swish(X, beta=0.0), X / 2)  # beta = 0: a scaled identity
    torch.testing.assert_close(swish(X, beta=100.0), F.relu(X), atol=3e-3, rtol=0)  # beta -> inf: ReLU


def test_swiglu_ffn_matches_formula():
    torch.manual_seed(0)
    ffn = SwiGLUFFN(6, 10).double()
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    w1, w2, w3 = ffn.w1.weight, ffn.w2.weight, ffn.w3.weight
    expected = (F.silu(x @ w1.T) * (x @ w3.T)) @ w2.T
    torch.testing.assert_close(ffn(x), expected)
    assert ffn(x).shape == x.shape


def test_swiglu_gate_and_value_are_not_interchangeable():
    torch.manual_seed(1)
    ffn = SwiGLUFFN(6, 10).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    swapped = ffn.w2(ffn.w1(x) * F.silu(ffn.w3(x)))
    assert (ffn(x) - swapped).abs().max() > 1e-3


def test_swiglu_activation_choice():
    torch.manual_seed(2)
    geglu = SwiGLUFFN(4, 8, activation=F.gelu).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    expected = geglu.w2(F.gelu(geglu.w1(x)) * geglu.w3(x))
    torch.testing.assert_close(geglu(x), expected)
    assert SwiGLUFFN(4, 8).activation is F.silu  # default: SwiGLU


def test_swiglu_parameters_match_a_4d_ffn_at_8d_over_3():
    d = 96  # 8d/3 = 256, an integer
    swiglu = sum(p.numel() for p in SwiGLUFFN(d, 8 * d // 3).parameters())
    assert swiglu == 3 * d * (8 * d // 3) == 2 * d * (4 * d)
    assert all(m.bias is None for m in (SwiGLUFFN(d, 8).w1, SwiGLUFFN(d, 8).w2, SwiGLUFFN(d, 8).w3))


@pytest.mark.parametrize(
    ("d_model", "expected"),
    [(4096, 11008), (5120, 13824), (6656, 17920), (8192, 22016)],  # LLaMA 7B, 13B, 33B, 65B
)
def test_llama_hidden_sizes(d_model, expected):
    assert llama_ffn_hidden_size(d_model) == expected
    assert llama_ffn_hidden_size(d_model) == llama_ffn_hidden_size(d_model, multiple_of=256)


def test_llama_hidden_size_with_multiplier():
    # LLaMA-3-8B: dim 4096, ffn_dim_multiplier 1.3, multiple_of 1024 -> 14336
    assert llama_ffn_hidden_size(4096, multiple_of=1024, ffn_dim_multiplier=1.3) == 14336
    assert llama_ffn_hidden_size(4096, multiple_of=1) == 10922  # int(8 * 4096 / 3), no rounding


def test_llama_hidden_size_rejects_bad_multiple():
    with pytest.raises(ValueError, match="multiple_of must be >= 1"):
        llama_ffn_hidden_size(4096, multiple_of=0)

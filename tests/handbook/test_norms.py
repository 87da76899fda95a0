"""norms: each layer against torch.nn.functional, plus the invariants the page relies on."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.norms import batch_norm, layer_norm, rms_norm

shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(lambda dims: [*dims, 8])
dtypes = st.sampled_from([torch.float32, torch.float64])


def tol(dtype):
    return {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 1e-8}


@settings(max_examples=25, deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_layer_norm_matches_torch(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    w, b = torch.randn(8, generator=g, dtype=dtype), torch.randn(8, generator=g, dtype=dtype)
    torch.testing.assert_close(layer_norm(x, w, b), F.layer_norm(x, (8,), w, b), **tol(dtype))
    torch.testing.assert_close(layer_norm(x), F.layer_norm(x, (8,)), **tol(dtype))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_rms_norm_matches_torch(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    w = torch.randn(8, generator=g, dtype=dtype)
    torch.testing.assert_close(rms_norm(x, w), F.rms_norm(x, (8,), w, eps=1e-6), **tol(dtype))
    torch.testing.assert_close(rms_norm(x), F.rms_norm(x, (8,), eps=1e-6), **tol(dtype))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=2), seed=st.integers(0, 2**16))
def test_batch_norm_matches_torch_after_reshape(shape, seed):
    x = torch.randn([*shape, 2, 8], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = F.batch_norm(x.reshape(-1, 8), None, None, training=True).reshape(x.shape)
    torch.testing.assert_close(batch_norm(x), expected)


def test_layer_norm_ignores_other_tokens_but_batch_norm_does_not():
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(0))
    padded = torch.cat([x, torch.zeros(2, 3, 8)], dim=1)
    torch.testing.assert_close(layer_norm(padded)[:, :4], layer_norm(x))
    torch.testing.assert_close(rms_norm(padded)[:, :4], rms_norm(x))
    assert (batch_norm(padded)[:, :4] - batch_norm(x)).abs().max() > 0.1


def test_rms_norm_does_not_centre():
    x = torch.full((1, 4), 3.0)
    torch.testing.assert_close(rms_norm(x), torch.ones(1, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(layer_norm(x), torch.zeros(1, 4))


@pytest.mark.parametrize("fn", [layer_norm, rms_norm])
def test_wrong_weight_shape_raises(fn):
    with pytest.raises(ValueError, match=r"weight must have shape \[8\]"):
        fn(torch.randn(2, 8), torch.ones(7))


def test_wrong_bias_shape_raises():
    with pytest.raises(ValueError, match=r"bias must have shape \[8\]"):
        layer_norm(torch.randn(2, 8), bias=torch.ones(3))


@pytest.mark.parametrize("fn", [layer_norm, rms_norm])
def test_integer_input_raises(fn):
    with pytest.raises(ValueError, match="floating-point"):
        fn(torch.ones(2, 8, dtype=torch.long))


def test_batch_norm_needs_two_positions():
    with pytest.raises(ValueError, match=">= 2 positions"):
        batch_norm(torch.randn(1, 8))


def test_batch_norm_valid_edge_two_positions_one_feature():
    x = torch.tensor([[1.0], [3.0]], dtype=torch.float64)  # 2 positions (the minimum), 1 feature
    torch.testing.assert_close(
        batch_norm(x), torch.tensor([[-1.0], [1.0]], dtype=torch.float64), atol=1e-5, rtol=0
    )
    with pytest.raises(ValueError, match=">= 2 positions"):
        batch_norm(torch.randn(1, 1, 8))  # one position, however many dims

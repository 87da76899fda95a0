"""interpret: attention rollout (hand-computed, rows sum to 1) and gradient x input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.interpret import attention_rollout, gradient_times_input


def test_rollout_single_layer_hand_computed():
    a = torch.tensor([[[0.0, 1.0], [0.5, 0.5]]])
    # 0.5*A + 0.5*I = [[0.5, 0.5], [0.25, 0.75]] (rows already sum to 1)
    torch.testing.assert_close(attention_rollout(a), torch.tensor([[0.5, 0.5], [0.25, 0.75]]))


def test_rollout_two_layers_is_product_last_times_first():
    a1 = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    a2 = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    m1, m2 = 0.5 * a1 + 0.5 * torch.eye(2), 0.5 * a2 + 0.5 * torch.eye(2)
    torch.testing.assert_close(attention_rollout(torch.stack([a1, a2])), m2 @ m1)
    assert not torch.allclose(m2 @ m1, m1 @ m2)  # order matters


def test_rollout_without_residual_is_plain_product_and_identity_attention_is_fixed_point():
    g = torch.Generator().manual_seed(0)
    a = torch.softmax(torch.randn(3, 4, 4, generator=g), dim=-1)
    torch.testing.assert_close(attention_rollout(a, residual_weight=0.0), a[2] @ a[1] @ a[0])
    torch.testing.assert_close(attention_rollout(torch.eye(4).expand(3, 4, 4)), torch.eye(4))


@settings(max_examples=25, deadline=None)
@given(layers=st.integers(1, 5), t=st.integers(1, 7), w=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_rollout_rows_sum_to_one(layers, t, w, seed):
    a = torch.softmax(torch.randn(layers, t, t, generator=torch.Generator().manual_seed(seed)), dim=-1)
    r = attention_rollout(a, residual_weight=w)
    torch.testing.assert_close(r.sum(-1), torch.ones(t))
    assert (r >= 0).all()


def test_gradient_times_input_linear_model_is_exact():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    scores = gradient_times_input(lambda z: (z * w).sum(), x)
    torch.testing.assert_close(scores, (x * w).sum(-1))
    torch.testing.assert_close(scores.sum(), (x * w).sum())


def test_gradient_times_input_square_hand_computed():
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    # f = sum x^2 -> grad = 2x -> grad*x summed per row = 2*||x_t||^2
    torch.testing.assert_close(gradient_times_input(lambda z: (z**2).sum(), x), torch.tensor([10.0, 18.0]))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"attentions must be \[L, T, T\]"):
        attention_rollout(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"residual_weight must be in \[0, 1\]"):
        attention_rollout(torch.ones(1, 2, 2) / 2, residual_weight=1.5)
    with pytest.raises(ValueError, match=r"x must be \[T, d\]"):
        gradient_times_input(lambda z: z.sum(), torch.ones(3))
    with pytest.raises(ValueError, match="must return a scalar"):
        gradient_times_input(lambda z: z.sum(-1), torch.ones(3, 2))

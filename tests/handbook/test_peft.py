"""peft: LoRA starts as the base layer, trains only A and B, and merges exactly."""

import pytest
import torch
from torch import nn

from mllm_handbook.peft import LoRALinear, count_parameters


def make(r=4, alpha=8.0, bias=True):
    torch.manual_seed(0)
    return LoRALinear(nn.Linear(16, 12, bias=bias), r=r, alpha=alpha)


def test_output_unchanged_at_init():
    lora = make()
    x = torch.randn(3, 5, 16)
    torch.testing.assert_close(lora(x), lora.base(x))
    assert torch.count_nonzero(lora.lora_B) == 0 and torch.count_nonzero(lora.lora_A) > 0


def test_only_lora_parameters_train():
    lora = make(r=2)
    assert not lora.base.weight.requires_grad and not lora.base.bias.requires_grad
    assert count_parameters(lora) == 2 * (16 + 12)
    assert count_parameters(lora, trainable_only=False) == 2 * (16 + 12) + 16 * 12 + 12


@pytest.mark.parametrize("bias", [True, False])
def test_merge_equals_unmerged(bias):
    lora = make(bias=bias)
    with torch.no_grad():
        lora.lora_B.normal_()
    x = torch.randn(4, 16)
    merged = lora.merge()
    assert isinstance(merged, nn.Linear)
    torch.testing.assert_close(merged(x), lora(x), atol=1e-5, rtol=1e-5)
    expected = lora.base.weight + (8.0 / 4) * lora.lora_B @ lora.lora_A
    torch.testing.assert_close(merged.weight, expected)


def test_update_has_rank_at_most_r_and_scaling():
    lora = make(r=3, alpha=6.0)
    with torch.no_grad():
        lora.lora_B.normal_()
    assert lora.scaling == 2.0
    assert torch.linalg.matrix_rank(lora.delta_weight()) <= 3


def test_gradients_reach_a_and_b_only():
    lora = make()
    with torch.no_grad():
        lora.lora_B.normal_()
    lora(torch.randn(2, 16)).sum().backward()
    assert lora.lora_A.grad is not None and lora.lora_B.grad is not None
    assert lora.base.weight.grad is None


def test_lora_a_is_initialised_like_a_linear_layer():
    base = nn.Linear(16, 12)
    torch.manual_seed(1)
    lora = LoRALinear(base, r=4, alpha=8.0)
    torch.manual_seed(1)
    reference = nn.Linear(16, 4, bias=False)  # nn.Linear draws its weight Kaiming-uniform with a = sqrt(5)
    torch.testing.assert_close(lora.lora_A.detach(), reference.weight.detach())


@pytest.mark.parametrize("r", [1, 12])
def test_rank_edges_are_valid(r):
    lora = LoRALinear(nn.Linear(16, 12), r=r, alpha=3.0)  # 1 <= r <= min(d_in, d_out) = 12
    assert lora.lora_A.shape == (r, 16) and lora.lora_B.shape == (12, r) and lora.scaling == 3.0 / r


@pytest.mark.parametrize("r", [0, -1, 13])
def test_bad_rank_raises(r):
    with pytest.raises(ValueError, match=r"r must be in \[1, 12\]"):
        LoRALinear(nn.Linear(16, 12), r=r, alpha=1.0)


def test_non_linear_base_raises():
    with pytest.raises(ValueError, match=r"nn\.Linear"):
        LoRALinear(nn.Conv1d(3, 3, 1), r=1, alpha=1.0)

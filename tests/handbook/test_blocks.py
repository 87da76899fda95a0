"""blocks: Pre-LN / Post-LN blocks against nn.TransformerEncoderLayer, and Xiong et al.'s gradient pattern."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mllm_handbook.blocks import EncoderBlock, ffn_gradient_norms


def torch_layer(norm_first, d_model=16, heads=4, d_ff=32, seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(
        d_model, heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first, dtype=torch.float64
    )
    with torch.no_grad():  # non-trivial LayerNorm parameters, so a mix-up of norm1/norm2 would show
        for norm in (layer.norm1, layer.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    return layer.eval()


@settings(max_examples=20, deadline=None)
@given(norm_first=st.booleans(), seed=st.integers(0, 2**16), seq=st.integers(1, 7))
def test_block_matches_torch_encoder_layer(norm_first, seed, seq):
    layer = torch_layer(norm_first, seed=seed)
    block = EncoderBlock.from_torch(layer).double()
    x = torch.randn(3, seq, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():  # eval() takes PyTorch's fused fast path, which rounds differently (~1e-7)
        torch.testing.assert_close(block(x), layer(x), atol=1e-6, rtol=1e-5)


def test_pre_and_post_ln_differ_with_the_same_weights():
    post = torch_layer(False)
    pre = torch_layer(True)
    pre.load_state_dict(post.state_dict())
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    with torch.no_grad():
        assert (
            EncoderBlock.from_torch(pre).double()(x) - EncoderBlock.from_torch(post).double()(x)
        ).abs().max() > 0.1


def test_post_ln_output_is_normalised_pre_ln_is_not():
    x = 3.0 * torch.randn(2, 5, 16, dtype=torch.float64) + 1.0
    post = EncoderBlock(16, 4, 32, norm_first=False).double()
    pre = EncoderBlock(16, 4, 32, norm_first=True).double()
    with torch.no_grad():
        y_post, y_pre = post(x), pre(x)
    torch.testing.assert_close(y_post.mean(-1), torch.zeros(2, 5, dtype=torch.float64), atol=1e-6, rtol=0)
    assert y_pre.mean(-1).abs().max() > 0.1  # residual stream carries the input through unnormalised


def test_post_ln_gradient_grows_toward_output_pre_ln_does_not():
    post = torch.stack([ffn_gradient_norms(False, 16, seed=s) for s in range(3)]).mean(0)
    pre = torch.stack([ffn_gradient_norms(True, 16, seed=s) for s in range(3)]).mean(0)
    assert post[-4:].mean() > 1.2 * post[:4].mean()
    assert pre[-4:].mean() < pre[:4].mean()
    assert pre[-1] < post[-1]


def test_pre_ln_last_layer_gradient_shrinks_with_depth():
    def last(norm_first, depth):
        return torch.stack([ffn_gradient_norms(norm_first, depth, seed=s)[-1] for s in range(3)]).mean()

    assert last(True, 24) < 0.6 * last(True, 2)
    assert last(False, 24) > 0.8 * last(False, 2)


def test_gradient_norms_are_deterministic_and_leave_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = ffn_gradient_norms(True, 3, seed=7)
    after = torch.rand(1)
    torch.testing.assert_close(a, ffn_gradient_norms(True, 3, seed=7))
    torch.testing.assert_close(before, after)
    assert a.shape == (3,)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="must divide d_model"):
        EncoderBlock(10, 3, 8, norm_first=True)
    with pytest.raises(ValueError, match=r"\[batch, seq, d_model\]"):
        EncoderBlock(8, 2, 8, norm_first=True)(torch.randn(4, 8))
    with pytest.raises(ValueError, match="batch_first=True"):
        EncoderBlock.from_torch(nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        ffn_gradient_norms(True, 0)

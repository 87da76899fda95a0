"""connectors and token compression: shapes, the papers' invariants, bad inputs (the toy LLaVA: test_llava.py)."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_handbook.connectors import (
    GatedCrossAttentionBlock,
    LinearProjector,
    MLPProjector,
    PatchMerger,
    QueryResampler,
    avg_pool_tokens,
    fastv_prune,
    internvl_pixel_shuffle,
    space_to_depth,
)


def test_linear_projector_is_one_affine_map_per_patch():
    torch.manual_seed(0)
    proj = LinearProjector(6, 10)
    x = torch.randn(2, 5, 6)
    torch.testing.assert_close(proj(x), x @ proj.proj.weight.T + proj.proj.bias)
    assert proj(x).shape == (2, 5, 10)


def test_mlp_projector_matches_manual_two_layer_gelu():
    torch.manual_seed(0)
    proj = MLPProjector(6, 10)
    x = torch.randn(2, 5, 6)
    first, second = proj.net[0], proj.net[2]
    expected = F.linear(F.gelu(F.linear(x, first.weight, first.bias)), second.weight, second.bias)
    torch.testing.assert_close(proj(x), expected)
    # The GELU makes it non-linear: f(2x) != 2 f(x) - f(0), unlike the linear projector.
    assert (proj(2 * x) - (2 * proj(x) - proj(torch.zeros_like(x)))).abs().max() > 1e-3


@settings(max_examples=15, deadline=None)
@given(num_patches=st.integers(1, 40), batch=st.integers(1, 3), heads=st.sampled_from([1, 2, 4]))
def test_resampler_output_size_is_independent_of_patch_count(num_patches, batch, heads):
    torch.manual_seed(0)
    resampler = QueryResampler(vision_dim=8, llm_dim=12, num_queries=4, num_heads=heads)
    out = resampler(torch.randn(batch, num_patches, 8))
    assert out.shape == (batch, 4, 12)


def test_resampler_depends_on_the_patches_and_matches_manual_single_head():
    torch.manual_seed(0)
    r = QueryResampler(vision_dim=8, llm_dim=12, num_queries=3)
    x = torch.randn(2, 7, 8)
    assert (r(x) - r(x + 1.0)).abs().max() > 1e-3
    q = r.queries.expand(2, -1, -1)
    ctx = torch.cat([x, q], dim=1)
    scores = r.q(q) @ r.k(ctx).transpose(1, 2) / 8**0.5
    latents = q + r.o(scores.softmax(-1) @ r.v(ctx))
    torch.testing.assert_close(r(x), r.out(latents + r.ffw(latents)), atol=1e-5, rtol=1e-5)


def test_resampler_is_permutation_invariant_over_patches():
    # Without positional encodings the queries see a set of patches: the order cannot matter.
    torch.manual_seed(0)
    r = QueryResampler(vision_dim=8, llm_dim=12, num_queries=3, num_heads=2)
    x = torch.randn(1, 9, 8)
    torch.testing.assert_close(r(x), r(x[:, torch.randperm(9)]), atol=1e-5, rtol=1e-5)


def test_gated_cross_attention_at_zero_gate_is_identity_and_opens_with_gate():
    torch.manual_seed(0)
    block = GatedCrossAttentionBlock(dim=8, vision_dim=6, num_heads=2)
    hidden, visual = torch.randn(2, 5, 8), torch.randn(2, 3, 6)
    torch.testing.assert_close(block(hidden, visual), hidden, atol=0, rtol=0)
    with torch.no_grad():
        block.alpha_xattn.fill_(1.0)
    assert (block(hidden, visual) - hidden).abs().max() > 1e-3
    # The gate receives gradient at 0 (d tanh/dx = 1), so training can open it.
    block.alpha_xattn.data.zero_()
    block(hidden, visual).sum().backward()
    assert block.alpha_xattn.grad.abs() > 0


@pytest.mark.parametrize("module", [LinearProjector(6, 4), MLPProjector(6, 4), QueryResampler(6, 4, 2, 2)])
def test_projectors_reject_wrong_width_and_rank(module):
    with pytest.raises(ValueError, match="last dim must be 6"):
        module(torch.randn(1, 3, 5))
    with pytest.raises(ValueError, match=r"shape \[batch, tokens, 6\]"):
        module(torch.randn(3, 6))
    with pytest.raises(ValueError, match="floating-point"):
        module(torch.ones(1, 3, 6, dtype=torch.long))


def test_constructor_and_gated_block_errors():
    with pytest.raises(ValueError, match="num_queries must be >= 1"):
        QueryResampler(8, 8, 0)
    with pytest.raises(ValueError, match="must divide vision_dim"):
        QueryResampler(8, 8, 2, num_heads=3)
    with pytest.raises(ValueError, match="must divide dim"):
        GatedCrossAttentionBlock(8, 6, num_heads=3)
    block = GatedCrossAttentionBlock(8, 6)
    with pytest.raises(ValueError, match="visual last dim must be 6"):
        block(torch.randn(1, 2, 8), torch.randn(1, 2, 8))
    with pytest.raises(ValueError, match="same batch size"):
        block(torch.randn(1, 2, 8), torch.randn(2, 2, 6))


# ---- token compression ------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 4), f=st.sampled_from([1, 2, 3]))
def test_space_to_depth_equals_pixel_unshuffle(h, w, c, f):
    tokens = torch.randn(2, h * f * w * f, c)
    grid = tokens.reshape(2, h * f, w * f, c).permute(0, 3, 1, 2)  # [batch, C, H, W]
    expected = F.pixel_unshuffle(grid, f).flatten(2).transpose(1, 2)
    torch.testing.assert_close(space_to_depth(tokens, h * f, w * f, f), expected, rtol=0, atol=0)


def test_space_to_depth_by_hand_and_default_factor():
    tokens = torch.arange(16.0).reshape(1, 16, 1)  # a 4 x 4 grid, one channel: value = row * 4 + col
    merged = space_to_depth(tokens, 4, 4)
    torch.testing.assert_close(merged, space_to_depth(tokens, 4, 4, factor=2))
    assert merged[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    with pytest.raises(ValueError, match="not divisible by 2"):
        space_to_depth(torch.zeros(1, 12, 1), 3, 4)


def test_internvl_pixel_shuffle_is_space_to_depth_up_to_a_channel_permutation():
    torch.manual_seed(0)
    n, side, c = 2, 6, 3
    grid = torch.randn(n, side, side, c)  # InternVL's [N, W, H, C] after reshaping the ViT tokens
    ours = space_to_depth(grid.reshape(n, side * side, c), side, side)  # [N, 9, 4C]
    theirs = internvl_pixel_shuffle(grid)
    assert theirs.shape == (n, 3, 3, 4 * c)
    assert torch.equal(internvl_pixel_shuffle(grid), internvl_pixel_shuffle(grid, 0.5))
    theirs = theirs.reshape(n, 9, 4 * c)
    # Same tokens, same values per token; only the order of the 4C channels differs, and it is fixed.
    perm = [int((ours[0, 0] == value).nonzero()) for value in theirs[0, 0]]
    torch.testing.assert_close(ours[..., perm], theirs, rtol=0, atol=0)
    assert perm != list(range(4 * c))


def test_avg_pool_tokens_equals_avg_pool2d():
    torch.manual_seed(0)
    tokens = torch.randn(2, 6 * 4, 5)
    grid = tokens.reshape(2, 6, 4, 5).permute(0, 3, 1, 2)
    expected = F.avg_pool2d(grid, 2).flatten(2).transpose(1, 2)
    torch.testing.assert_close(avg_pool_tokens(tokens, 6, 4), expected)
    torch.testing.assert_close(avg_pool_tokens(tokens, 6, 4), avg_pool_tokens(tokens, 6, 4, stride=2))
    assert avg_pool_tokens(tokens, 6, 4, stride=1).shape == tokens.shape


def test_patch_merger_shapes_and_manual_forward():
    torch.manual_seed(0)
    merger = PatchMerger(vision_dim=8, llm_dim=12)
    tokens = torch.randn(2, 4 * 6, 8)
    out = merger(tokens, 4, 6)
    assert out.shape == (2, 6, 12)
    normed = F.layer_norm(tokens, (8,), merger.norm.weight, merger.norm.bias, 1e-6)
    first, second = merger.mlp[0], merger.mlp[2]
    expected = second(F.gelu(first(space_to_depth(normed, 4, 6))))
    torch.testing.assert_close(out, expected)
    assert first.in_features == first.out_features == 32  # 4 C -> 4 C -> d
    with pytest.raises(ValueError, match="tokens last dim must be 8"):
        merger(torch.randn(1, 4, 7), 2, 2)


def test_fastv_prune_keeps_top_attended_image_tokens_and_original_positions():
    batch, heads, length = 2, 3, 10
    attention = torch.rand(batch, heads, length, length, generator=torch.Generator().manual_seed(0))
    attention = attention / attention.sum(-1, keepdim=True)
    hidden = torch.arange(batch * length * 4.0).reshape(batch, length, 4)
    kept, positions = fastv_prune(hidden, attention, image_start=2, num_image_tokens=6, num_keep=2)
    assert kept.shape == (batch, 6, 4) and positions.shape == (batch, 6)
    for b in range(batch):
        score = attention[b, :, -1, 2:8].mean(0)
        top = sorted((score.topk(2).indices + 2).tolist())
        assert positions[b].tolist() == [0, 1, *top, 8, 9]  # text keeps its original ids too
        torch.testing.assert_close(kept[b], hidden[b, positions[b]])
    _, all_kept = fastv_prune(hidden, attention, 2, 6, 6)
    assert all_kept.tolist() == [list(range(10))] * batch  # valid edge: keep every image token
    _, none_kept = fastv_prune(hidden, attention, 2, 6, 0)
    assert none_kept.tolist() == [[0, 1, 8, 9]] * batch
    with pytest.raises(ValueError, match="0 <= num_keep <= 6"):
        fastv_prune(hidden, attention, 2, 6, 7)

"""masks: attention-mask patterns against hand-drawn matrices, and BERT's 80/10/10 corruption statistics."""

import pytest
import torch

from mllm_handbook.masks import (
    causal_mask,
    glm_blank_infilling_mask,
    mlm_mask_tokens,
    padding_mask,
    prefix_lm_mask,
)


def _m(rows):
    return torch.tensor([[c == "1" for c in r] for r in rows])


def test_causal_mask_is_lower_triangular_and_top_left_aligned():
    assert torch.equal(causal_mask(3), _m(["100", "110", "111"]))
    assert torch.equal(causal_mask(2, 4), _m(["1000", "1100"]))


def test_prefix_lm_mask_limits_and_example():
    assert torch.equal(prefix_lm_mask(4, 0), causal_mask(4))
    assert torch.equal(prefix_lm_mask(4, 4), torch.ones(4, 4, dtype=torch.bool))
    assert torch.equal(prefix_lm_mask(4, 2), _m(["1100", "1100", "1110", "1111"]))


def test_glm_mask_matches_paper_figure_2d():
    # Part A = x1 x2 [M] x4 [M]; Part B = [S] x5 x6 [S] x3 (GLM, Fig. 2d)
    expected = _m(["1111100000"] * 5 + ["1111110000", "1111111000", "1111111100", "1111111110", "1111111111"])
    assert torch.equal(glm_blank_infilling_mask(5, 5), expected)


def test_padding_mask():
    assert torch.equal(padding_mask(torch.tensor([2, 0, 3]), 3), _m(["110", "000", "111"]))


def test_mlm_statistics_match_15_80_10_10():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (200, 500), generator=g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    corrupted, labels = mlm_mask_tokens(ids, 1, 1000, special_tokens_mask=special, generator=g)
    selected = labels != -100
    assert not selected[:, 0].any()
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(corrupted[~selected], ids[~selected])
    rate = selected[:, 1:].float().mean().item()
    assert abs(rate - 0.15) < 0.005
    n = selected.sum().item()
    as_mask = (corrupted[selected] == 1).sum().item() / n
    kept = (corrupted[selected] == ids[selected]).sum().item() / n
    assert abs(as_mask - 0.8) < 0.01
    assert abs(kept - 0.1) < 0.01  # kept 10 % (+ random draws that hit the same id, ~0.1 %)
    assert abs(1 - as_mask - kept - 0.1) < 0.01


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="lengths must be >= 1"):
        causal_mask(0)
    with pytest.raises(ValueError, match="prefix_len"):
        prefix_lm_mask(3, 4)
    with pytest.raises(ValueError, match="part_a_len"):
        glm_blank_infilling_mask(0, 2)
    with pytest.raises(ValueError, match="1-D integer"):
        padding_mask(torch.tensor([1.0]), 2)
    with pytest.raises(ValueError, match="lie in"):
        padding_mask(torch.tensor([3]), 2)
    ids = torch.tensor([[5, 6, 7]])
    with pytest.raises(ValueError, match="integer"):
        mlm_mask_tokens(ids.float(), 1, 10)
    with pytest.raises(ValueError, match="mlm_probability"):
        mlm_mask_tokens(ids, 1, 10, mlm_probability=1.5)
    with pytest.raises(ValueError, match="special_tokens_mask"):
        mlm_mask_tokens(ids, 1, 10, special_tokens_mask=torch.zeros(1, 2, dtype=torch.bool))

"""llava: splicing, the masked loss, the toy forward, per-stage freezing, and parameter counts from configs."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook.connectors import MLPProjector
from mllm_handbook.llava import (
    IGNORE_INDEX,
    IMAGE_TOKEN_INDEX,
    ToyLlava,
    llama_num_params,
    mlp_projector_num_params,
    next_token_loss,
    set_trainable,
    splice_image_tokens,
    vit_num_params,
)


def _batch():
    input_ids = torch.tensor([[1, IMAGE_TOKEN_INDEX, 4, 5, 6], [2, 3, IMAGE_TOKEN_INDEX, 7, 8]])
    labels = input_ids.clone()
    return input_ids, labels


def test_splice_puts_image_tokens_at_the_placeholder_with_ignore_labels():
    input_ids, labels = _batch()
    text = torch.arange(2 * 5 * 2, dtype=torch.float).reshape(2, 5, 2)
    image = -torch.ones(2, 3, 2)
    embeds, new_labels = splice_image_tokens(input_ids, labels, text, image)
    assert embeds.shape == (2, 7, 2)
    assert new_labels.tolist() == [[1, -100, -100, -100, 4, 5, 6], [2, 3, -100, -100, -100, 7, 8]]
    torch.testing.assert_close(embeds[0, 1:4], image[0])
    torch.testing.assert_close(embeds[1, :2], text[1, :2])
    torch.testing.assert_close(embeds[1, 5:], text[1, 3:])


def test_next_token_loss_is_shifted_masked_cross_entropy():
    torch.manual_seed(0)
    logits, labels = torch.randn(1, 4, 5), torch.tensor([[IGNORE_INDEX, 2, IGNORE_INDEX, 4]])
    # Position 0 predicts label 2, position 2 predicts label 4; position 1's target is ignored.
    expected = F.cross_entropy(logits[0, [0, 2]], torch.tensor([2, 4]))
    torch.testing.assert_close(next_token_loss(logits, labels), expected)


def test_toy_llava_loss_ignores_image_position_labels_but_not_the_image():
    torch.manual_seed(0)
    model = ToyLlava(vocab_size=10, vision_dim=6, dim=8)
    patches = torch.randn(2, 3, 6)
    input_ids, labels = _batch()
    logits, loss, full_labels = model(patches, input_ids, labels)
    assert logits.shape == (2, 7, 10)
    assert (full_labels == IGNORE_INDEX).sum() == 6
    other = labels.clone()
    other[input_ids == IMAGE_TOKEN_INDEX] = 9  # any label at the placeholder
    torch.testing.assert_close(model(patches, input_ids, other)[1], loss, atol=0, rtol=0)
    # The image does reach the text predictions through causal attention.
    assert (model(patches + 1.0, input_ids, labels)[1] - loss).abs() > 1e-6


def test_toy_llava_text_before_the_image_does_not_see_it():
    torch.manual_seed(0)
    model = ToyLlava(vocab_size=10, vision_dim=6, dim=8)
    input_ids, labels = _batch()
    patches = torch.randn(2, 3, 6)
    a = model(patches, input_ids, labels)[0]
    b = model(patches + 1.0, input_ids, labels)[0]
    torch.testing.assert_close(a[1, :2], b[1, :2], atol=1e-6, rtol=0)  # causal: tokens before the image


def test_splice_errors():
    input_ids, labels = _batch()
    text, image = torch.randn(2, 5, 4), torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="one per token"):
        splice_image_tokens(input_ids, labels[:, :4], text, image)
    with pytest.raises(ValueError, match="one per token"):
        splice_image_tokens(input_ids, labels, text[:, :4], image)
    no_image = torch.ones_like(input_ids)
    with pytest.raises(ValueError, match="exactly one IMAGE_TOKEN_INDEX"):
        splice_image_tokens(no_image, labels, text, image)
    with pytest.raises(ValueError, match="logits"):
        next_token_loss(torch.randn(2, 4, 3), torch.zeros(2, 5, dtype=torch.long))


# ---- staged training ---------------------------------------------------------------------------------------


def _count(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def test_set_trainable_counts_each_part():
    torch.manual_seed(0)
    model = ToyLlava(vocab_size=10, vision_dim=6, dim=8, vision_layers=1)
    llm = (model.embed, model.blocks, model.lm_head)
    assert set_trainable(model, ["projector"]) == _count(model.projector)
    assert set_trainable(model, ["vision", "projector"]) == _count(model.vision, model.projector)
    assert set_trainable(model, ["projector", "llm"]) == _count(model.projector, *llm)
    assert set_trainable(model, ["vision", "projector", "llm"]) == _count(model)
    assert set_trainable(model, []) == 0  # valid edge: everything frozen
    with pytest.raises(ValueError, match="unknown parts \\['vit'\\]"):
        set_trainable(model, ["vit"])


def test_set_trainable_drops_stale_gradients():
    torch.manual_seed(0)
    model = ToyLlava(vocab_size=10, vision_dim=6, dim=8, vision_layers=1)
    input_ids, labels = _batch()
    set_trainable(model, ["vision", "projector", "llm"])
    model(torch.randn(2, 3, 6), input_ids, labels)[1].backward()
    assert all(p.grad is not None for p in model.parameters())
    set_trainable(model, ["llm"])
    assert all(p.grad is None for p in model.parameters())


def test_default_toy_llava_has_no_vision_encoder_and_vision_layers_add_one():
    torch.manual_seed(0)
    assert isinstance(ToyLlava(10, 6, 8).vision, nn.Identity)
    model = ToyLlava(10, 6, 8, vision_layers=2)
    assert len(model.vision.layers) == 2
    patches = torch.randn(2, 3, 6)
    assert (model.vision(patches) - patches).abs().max() > 1e-3


@pytest.mark.parametrize(
    ("parts", "frozen"),
    [
        (["projector"], ["vision", "llm"]),
        (["vision", "projector"], ["llm"]),
        (["projector", "llm"], ["vision"]),
    ],
)
def test_frozen_parts_are_bit_identical_and_get_no_grad_or_optimizer_state(parts, frozen):
    torch.manual_seed(0)
    model = ToyLlava(vocab_size=10, vision_dim=6, dim=8, vision_layers=1)
    input_ids, labels = _batch()
    patches = torch.randn(2, 3, 6)
    set_trainable(model, parts)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(patches, input_ids, labels)[1].backward()
        opt.step()
    for part in frozen:
        for name in ToyLlava.PARTS[part]:
            for p_name, p in getattr(model, name).named_parameters():
                assert torch.equal(p, before[f"{name}.{p_name}"]), f"{name}.{p_name} changed"
                assert p.grad is None and p not in opt.state
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert changed and set(changed) <= set(trainable)
    assert len(opt.state) == len(trainable)


# ---- parameter counts ----------------------------------------------------------------------------------------


def test_mlp_projector_count_matches_the_module():
    assert mlp_projector_num_params(6, 10) == _count(MLPProjector(6, 10))
    assert mlp_projector_num_params(1024, 4096) == 20_979_712  # LLaVA-1.5-7B


class _TinyLlama(nn.Module):
    """Bias-free MHA + SwiGLU + RMSNorm, untied embeddings: the layout LLaMA's config describes."""

    def __init__(self, vocab, dim, layers, ffn):
        super().__init__()
        self.embed, self.head, self.norm = (
            nn.Embedding(vocab, dim),
            nn.Linear(dim, vocab, bias=False),
            nn.RMSNorm(dim),
        )
        block = lambda: nn.ModuleList(  # noqa: E731
            [nn.Linear(dim, dim, bias=False) for _ in range(4)]
            + [
                nn.Linear(dim, ffn, bias=False),
                nn.Linear(dim, ffn, bias=False),
                nn.Linear(ffn, dim, bias=False),
            ]
            + [nn.RMSNorm(dim), nn.RMSNorm(dim)]
        )
        self.layers = nn.ModuleList([block() for _ in range(layers)])


def test_llama_count_matches_a_module_and_llama2_configs():
    assert llama_num_params(11, 6, 3, 10) == _count(_TinyLlama(11, 6, 3, 10))
    assert llama_num_params(32000, 4096, 32, 11008) == 6_738_415_616  # LLaMA-2-7B / Vicuna-7B v1.5
    assert llama_num_params(32000, 5120, 40, 13824) == 13_015_864_320  # LLaMA-2-13B / Vicuna-13B v1.5


def test_vit_count_matches_a_clip_style_module():
    size, patch, dim, layers, mlp = 12, 4, 8, 2, 20
    layer = nn.TransformerEncoderLayer(dim, 2, mlp, batch_first=True)  # attention and MLP with biases, 2 LNs
    tower = nn.ModuleDict(
        {
            "patch": nn.Conv2d(3, dim, patch, patch, bias=False),
            "pre": nn.LayerNorm(dim),
            "blocks": nn.TransformerEncoder(layer, layers, enable_nested_tensor=False),
            "post": nn.LayerNorm(dim),
        }
    )
    extra = dim + ((size // patch) ** 2 + 1) * dim  # class token and positions
    assert vit_num_params(size, patch, dim, layers, mlp) == _count(tower) + extra

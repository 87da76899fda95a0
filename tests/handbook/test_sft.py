"""sft: chat template + prompt masking, loss over response tokens only, packing without cross-contamination."""

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.sft import (
    IGNORE_INDEX,
    build_sft_example,
    pack_examples,
    packed_causal_mask,
    pad_batch,
    render_turn,
    sft_loss,
)


def tokenize(text):
    return list(text.encode("utf-8"))


CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]


def test_labels_only_on_assistant_content_and_end_token():
    ids, labels = build_sft_example(CHAT, tokenize)
    text = bytes(ids.tolist()).decode()
    assert (
        text
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
    )
    trained = bytes(ids[labels != IGNORE_INDEX].tolist()).decode()
    assert trained == "4<|im_end|>\n"
    assert (labels[labels != IGNORE_INDEX] == ids[labels != IGNORE_INDEX]).all()


def test_multi_turn_trains_every_assistant_turn():
    chat = [*CHAT, {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]
    ids, labels = build_sft_example(chat, tokenize)
    assert bytes(ids[labels != IGNORE_INDEX].tolist()).decode() == "4<|im_end|>\n6<|im_end|>\n"


def test_loss_is_ce_over_response_tokens_only():
    torch.manual_seed(0)
    examples = [build_sft_example(CHAT, tokenize), build_sft_example(CHAT[1:], tokenize)]
    input_ids, labels, mask = pad_batch(examples, pad_id=0)
    assert mask.sum() == sum(len(i) for i, _ in examples)
    logits = torch.randn(*input_ids.shape, 256)
    terms = [
        F.cross_entropy(logits[b, t - 1], labels[b, t], reduction="sum")
        for b in range(2)
        for t in range(1, labels.shape[1])
        if labels[b, t] != IGNORE_INDEX
    ]
    torch.testing.assert_close(sft_loss(logits, labels), torch.stack(terms).mean())
    # changing logits that predict prompt tokens leaves the loss unchanged
    prompt_pred = torch.zeros_like(labels, dtype=torch.bool)
    prompt_pred[:, :-1] = labels[:, 1:] == IGNORE_INDEX
    perturbed = logits.clone()
    perturbed[prompt_pred] += 10 * torch.randn(int(prompt_pred.sum()), 256)
    torch.testing.assert_close(sft_loss(perturbed, labels), sft_loss(logits, labels))


def test_packing_restarts_positions_and_masks_boundaries():
    a, b = (torch.tensor([1, 2, 3]), torch.tensor([-100, 2, 3])), (torch.tensor([4, 5]), torch.tensor([4, 5]))
    ids, labels, pos, doc = pack_examples([a, b])
    assert ids.tolist() == [1, 2, 3, 4, 5]
    assert labels.tolist() == [-100, 2, 3, -100, 5]  # first token of b is not trained to follow a
    assert pos.tolist() == [0, 1, 2, 0, 1] and doc.tolist() == [0, 0, 0, 1, 1]
    assert b[1].tolist() == [4, 5]  # inputs are not modified


def test_packed_attention_equals_separate_attention():
    torch.manual_seed(0)
    lens = [3, 5, 2]
    xs = [torch.randn(n, 8) for n in lens]
    _, _, _, doc = pack_examples(
        [(torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)) for n in lens]
    )
    packed = torch.cat(xs)[None]
    out = F.scaled_dot_product_attention(packed, packed, packed, attn_mask=packed_causal_mask(doc))
    separate = torch.cat(
        [F.scaled_dot_product_attention(x[None], x[None], x[None], is_causal=True) for x in xs], 1
    )
    torch.testing.assert_close(out, separate)


def test_bad_inputs():
    with pytest.raises(ValueError, match="role must be one of"):
        render_turn("tool", "x")
    with pytest.raises(ValueError, match="at least one assistant turn"):
        build_sft_example(CHAT[:2], tokenize)
    with pytest.raises(ValueError, match="at least one example"):
        pad_batch([], 0)
    with pytest.raises(ValueError, match="at least one example"):
        pack_examples([])
    with pytest.raises(ValueError, match="every label is -100"):
        sft_loss(torch.randn(1, 4, 5), torch.full((1, 4), IGNORE_INDEX))
    with pytest.raises(ValueError, match=r"logits \[B, T, V\]"):
        sft_loss(torch.randn(1, 4, 5), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="1-d"):
        packed_causal_mask(torch.zeros(2, 2))

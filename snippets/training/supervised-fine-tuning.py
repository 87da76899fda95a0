"""SFT: chat template, prompt labels -100, loss on responses only, packing."""

import torch
import torch.nn.functional as F

from mllm_handbook.sft import (
    IGNORE_INDEX,
    build_sft_example,
    pack_examples,
    packed_causal_mask,
    pad_batch,
    sft_loss,
)

torch.manual_seed(0)


def tokenize(text: str) -> list[int]:
    """A toy byte-level tokenizer: one token per UTF-8 byte (256 ids)."""
    return list(text.encode("utf-8"))


chats = [
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "<image> What animal?"},
        {"role": "assistant", "content": "A cat."},
    ],
    [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ],
]
examples = [build_sft_example(chat, tokenize) for chat in chats]

# 1. The rendered template, line by line, and whether its tokens carry a label.
ids, labels = examples[0]
offset = 0
for line in bytes(ids.tolist()).decode().split("\n")[:-1]:
    scored = (labels[offset : offset + len(line) + 1] != IGNORE_INDEX).tolist()
    status = "trained" if all(scored) else "partly" if any(scored) else "masked"
    print(f"{status:>7} | {line}")
    offset += len(line) + 1
trained = bytes(ids[labels != IGNORE_INDEX].tolist()).decode()
assert trained == "A cat.<|im_end|>\n"
print(f"supervised tokens: {int((labels != IGNORE_INDEX).sum())} of {len(ids)}")

# 2. Pad into a batch; the loss is the shifted CE over response tokens only.
input_ids, batch_labels, attention_mask = pad_batch(examples, pad_id=0)
logits = torch.randn(*input_ids.shape, 256)  # stand-in for a model's output
per_token = F.cross_entropy(
    logits[:, :-1].transpose(1, 2),
    batch_labels[:, 1:],
    reduction="none",
    ignore_index=IGNORE_INDEX,
)
manual = per_token.sum() / (batch_labels[:, 1:] != IGNORE_INDEX).sum()
loss = sft_loss(logits, batch_labels)
assert torch.allclose(loss, manual)
print(
    f"batch {list(input_ids.shape)}: loss on responses = {loss.item():.4f} "
    f"(manual: {manual.item():.4f})"
)

# 3. Packing: no padding, positions restart, attention stays inside each
#    example.
packed_ids, packed_labels, positions, doc_ids = pack_examples(examples)
padded_slots = input_ids.numel()
padding = int((~attention_mask).sum())
print(f"padded batch: {padded_slots} slots, {padding} of them padding")
restarts = [0] + [int(p) for p in (positions == 0).nonzero().flatten()[1:]]
print(
    f"packed row:   {len(packed_ids)} slots, 0 padding; "
    f"positions restart at {restarts}"
)
mask = packed_causal_mask(doc_ids)
x = torch.randn(1, len(packed_ids), 8)
packed_out = F.scaled_dot_product_attention(x, x, x, attn_mask=mask)
sizes = [len(e[0]) for e in examples]
chunks = x.split(sizes, dim=1)
separate = [
    F.scaled_dot_product_attention(c, c, c, is_causal=True) for c in chunks
]
separate = torch.cat(separate, dim=1)
assert torch.allclose(packed_out, separate, atol=1e-6)
print(
    "packed attention with block-diagonal causal mask == separate sequences: OK"
)

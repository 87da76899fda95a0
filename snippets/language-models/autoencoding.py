"""BERT-style masked LM: select 15 %, corrupt 80/10/10, compute the loss only where tokens were selected."""

import torch
import torch.nn.functional as F

from mllm_handbook.attention import scaled_dot_product_attention
from mllm_handbook.masks import mlm_mask_tokens

g = torch.Generator().manual_seed(0)
torch.manual_seed(0)
words = [
    "[PAD]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "and",
    "slept",
    "well",
]
CLS, SEP, MASK, V = 1, 2, 3, len(words)

# 1. One sentence: [CLS] and [SEP] are never selected; labels are -100 except at selected positions.
ids = torch.tensor([[CLS, 4, 5, 6, 7, 4, 8, 9, 10, 11, SEP]])
special = (ids == CLS) | (ids == SEP)
corrupted, labels = mlm_mask_tokens(
    ids, MASK, V, 0.3, special, generator=g
)  # 30 % to show a few
print("input    :", " ".join(words[i] for i in ids[0]))
print("corrupted:", " ".join(words[i] for i in corrupted[0]))
print("labels   :", labels[0].tolist())
assert torch.all(labels[labels != -100] == ids[labels != -100]) and torch.all(
    labels[special] == -100
)

# 2. The 15 % / 80-10-10 rule, measured on 100k tokens from a 1000-token vocabulary.
V = 1000
many = torch.randint(4, V, (200, 500), generator=g)
corrupted, labels = mlm_mask_tokens(many, MASK, V, generator=g)
sel = labels != -100
n = sel.sum().item()
rates = {
    "selected": n / many.numel(),
    "-> [MASK]": (corrupted[sel] == MASK).sum().item() / n,
    "-> random": ((corrupted[sel] != MASK) & (corrupted[sel] != many[sel]))
    .sum()
    .item()
    / n,
    "-> kept": (corrupted[sel] == many[sel]).sum().item() / n,
}
for name, r in rates.items():
    print(f"{name:>10}: {100 * r:5.1f} %")
assert (
    abs(rates["selected"] - 0.15) < 0.005
    and abs(rates["-> [MASK]"] - 0.80) < 0.01
)
assert (
    abs(rates["-> random"] - 0.10) < 0.015
    and abs(rates["-> kept"] - 0.10) < 0.015
)  # random can hit itself

# 3. The loss only counts selected positions: ignore_index=-100 == mean over the selected set.
few_labels = labels[:4]  # 2000 tokens are enough here
logits = torch.randn(*few_labels.shape, V, generator=g)
loss = F.cross_entropy(
    logits.reshape(-1, V), few_labels.reshape(-1), ignore_index=-100
)
keep = few_labels != -100
assert torch.allclose(loss, F.cross_entropy(logits[keep], few_labels[keep]))
print(
    f"MLM loss over the {keep.sum().item()} selected of {keep.numel()} tokens = {loss.item():.4f}"
)

# 4. Bidirectional attention: editing the LAST token changes the FIRST position's output.
q = k = v = torch.randn(1, 6, 4)
v2 = v.clone()
v2[:, -1] += 1.0
change = (
    (
        scaled_dot_product_attention(q, k, v2)
        - scaled_dot_product_attention(q, k, v)
    )[0, 0]
    .abs()
    .max()
)
change_causal = (
    (
        scaled_dot_product_attention(q, k, v2, is_causal=True)
        - scaled_dot_product_attention(q, k, v, is_causal=True)
    )[0, 0]
    .abs()
    .max()
)
print(
    f"position 0 after editing position 5: bidirectional {change:.3f}, causal {change_causal:.3f}"
)
assert change > 0 and change_causal == 0

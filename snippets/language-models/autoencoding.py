"""BERT's masked LM: select 15 %, corrupt 80/10/10, loss on selected only."""

import torch
import torch.nn.functional as F

from mllm_handbook.attention import scaled_dot_product_attention
from mllm_handbook.masks import mlm_mask_tokens

g = torch.Generator().manual_seed(0)
torch.manual_seed(0)
words = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on"]
words += ["mat", "and", "slept", "well"]
CLS, SEP, MASK, V = 1, 2, 3, len(words)

# 1. One sentence: [CLS] and [SEP] are never selected; labels are -100
#    except at selected positions (30 % here, to show a few).
ids = torch.tensor([[CLS, 4, 5, 6, 7, 4, 8, 9, 10, 11, SEP]])
special = (ids == CLS) | (ids == SEP)
corrupted, labels = mlm_mask_tokens(ids, MASK, V, 0.3, special, generator=g)
print("input    :", " ".join(words[i] for i in ids[0]))
print("corrupted:", " ".join(words[i] for i in corrupted[0]))
print("labels   :", labels[0].tolist())
selected = labels != -100
assert torch.all(labels[selected] == ids[selected])
assert torch.all(labels[special] == -100)

# 2. The 15 % / 80-10-10 rule, measured on 100k tokens from a 1000-token
#    vocabulary.
V = 1000
many = torch.randint(4, V, (200, 500), generator=g)
corrupted, labels = mlm_mask_tokens(many, MASK, V, generator=g)
sel = labels != -100
n = sel.sum().item()
masked = corrupted[sel] == MASK
kept = corrupted[sel] == many[sel]
rates = {
    "selected": n / many.numel(),
    "-> [MASK]": masked.sum().item() / n,
    "-> random": (~masked & ~kept).sum().item() / n,
    "-> kept": kept.sum().item() / n,
}
for name, r in rates.items():
    print(f"{name:>10}: {100 * r:5.1f} %")
assert abs(rates["selected"] - 0.15) < 0.005
assert abs(rates["-> [MASK]"] - 0.80) < 0.01
# A random replacement can hit the token itself, so "kept" is a bit above 10.
assert abs(rates["-> random"] - 0.10) < 0.015
assert abs(rates["-> kept"] - 0.10) < 0.015

# 3. The loss only counts selected positions: ignore_index=-100 == the mean
#    over the selected set.
few_labels = labels[:4]  # 2000 tokens are enough here
logits = torch.randn(*few_labels.shape, V, generator=g)
loss = F.cross_entropy(
    logits.reshape(-1, V), few_labels.reshape(-1), ignore_index=-100
)
keep = few_labels != -100
assert torch.allclose(loss, F.cross_entropy(logits[keep], few_labels[keep]))
print(
    f"MLM loss over the {keep.sum().item()} selected of {keep.numel()} tokens "
    f"= {loss.item():.4f}"
)

# 4. Bidirectional attention: editing the LAST token changes the FIRST
#    position's output; with a causal mask it does not.
q = k = v = torch.randn(1, 6, 4)
v2 = v.clone()
v2[:, -1] += 1.0


def first_position_change(is_causal: bool) -> torch.Tensor:
    before = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    after = scaled_dot_product_attention(q, k, v2, is_causal=is_causal)
    return (after - before)[0, 0].abs().max()


change = first_position_change(False)
change_causal = first_position_change(True)
print(
    f"position 0 after editing position 5: bidirectional {change:.3f}, "
    f"causal {change_causal:.3f}"
)
assert change > 0 and change_causal == 0

"""One step of visual contrastive decoding (VCD) on a toy vocabulary."""

import math

import torch

from mllm_handbook.decoding import contrastive_decoding_logits

# Next token after "A man is holding a ..." for an image of a man holding an
# umbrella.
vocab = ["umbrella", "phone", "surfboard", "banana", "kite"]
# Real image: "phone" (a language prior) edges out "umbrella".
logits = torch.tensor([2.0, 2.2, 0.2, -1.5, -2.5])
# Noised image: the prior survives, "umbrella" fades.
distorted = torch.tensor([0.5, 2.3, 0.8, -2.5, -5.0])

vcd = contrastive_decoding_logits(logits, distorted, alpha=1.0, beta=0.1)
p_orig = torch.softmax(logits, dim=-1)
p_vcd = torch.softmax(vcd, dim=-1)  # exp(-inf) = 0 outside the plausible set

print(f"plausibility cut-off: p >= 0.1 * max p = {0.1 * p_orig.max():.3f}")
print(
    f"{'token':>10} | {'p(real)':>7} | {'p(noised)':>9} | {'VCD logit':>9} "
    f"| {'p(VCD)':>6}"
)
p_dist = torch.softmax(distorted, dim=-1)
for i, tok in enumerate(vocab):
    print(
        f"{tok:>10} | {p_orig[i]:7.3f} | {p_dist[i]:9.3f} | {vcd[i]:9.2f} "
        f"| {p_vcd[i]:6.3f}"
    )

# Greedy choice flips from the prior ("phone") to the visually grounded token
# ("umbrella").
assert vocab[logits.argmax()] == "phone" and vocab[vcd.argmax()] == "umbrella"

# The cut-off is applied: every token below log(beta) + max log p of the
# ORIGINAL distribution gets -inf.
log_p = torch.log_softmax(logits, dim=-1)
below = log_p < math.log(0.1) + log_p.max()
assert torch.isinf(vcd[below]).all() and torch.isfinite(vcd[~below]).all()
# Without it, the implausible "kite" (p = 0.005) would be boosted above the
# plausible "surfboard".
raw = 2 * logits - distorted
kite, surfboard = vocab.index("kite"), vocab.index("surfboard")
assert raw[kite] > raw[surfboard] and torch.isinf(vcd[kite])
removed = [t for t, b in zip(vocab, below, strict=True) if b]
print("tokens removed by the cut-off:", removed)

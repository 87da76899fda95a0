"""Attention patterns: encoder-decoder (Flan-T5), GLM (ChatGLM-6B), causal."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.masks import (
    causal_mask,
    glm_blank_infilling_mask,
    prefix_lm_mask,
)


def draw(mask: torch.Tensor, labels: list[str], cols: list[str] | None = None):
    """Print a mask: x where the row (query) may attend to the column (key)."""
    cols = labels if cols is None else cols
    print("       " + " ".join(f"{c:>4}" for c in cols))
    for name, row in zip(labels, mask, strict=True):
        print(f"{name:>6} " + " ".join(f"{'x' if b else '.':>4}" for b in row))


# 1. Flan-T5 (encoder-decoder): three separate masks, two parameter sets.
src, tgt = ["a", "b", "c"], ["y1", "y2"]
enc_self = torch.ones(3, 3, dtype=torch.bool)  # encoder: fully visible
dec_self = causal_mask(2)  # decoder: causal over the output
cross = torch.ones(2, 3, dtype=torch.bool)  # decoder -> every encoder state
print("Flan-T5 encoder self-attention:")
draw(enc_self, src)
print("Flan-T5 decoder self-attention | cross-attention:")
draw(torch.cat([dec_self, cross], 1), tgt, tgt + src)
no_peek = torch.zeros(3, 2, dtype=torch.bool)  # the encoder never sees y
combined = torch.cat(
    [torch.cat([enc_self, no_peek], 1), torch.cat([cross, dec_self], 1)]
)
# The same connectivity as a prefix LM, but with separate weights.
assert torch.equal(combined, prefix_lm_mask(5, 3))

# 2. GLM (ChatGLM-6B): the paper's Fig. 2 example. x = x1..x6, spans [x3]
#    and [x5 x6] are blanked. Part A | Part B (the spans, shuffled).
tokens = ["x1", "x2", "[M]", "x4", "[M]", "[S]", "x5", "x6", "[S]", "x3"]
glm = glm_blank_infilling_mask(part_a_len=5, part_b_len=5)
paper_fig_2d = torch.tensor(
    [[1] * 5 + [0] * 5] * 5
    + [[1] * 5 + [1] * (i + 1) + [0] * (4 - i) for i in range(5)],
    dtype=torch.bool,
)
assert torch.equal(glm, paper_fig_2d)
print("\nGLM blank infilling (rows attend to columns marked x):")
draw(glm, tokens)
# Position 1: the position in the corrupted text (in Part B, that of its
# span's [M]); position 2: the position inside the span (0 for Part A).
position_1 = [1, 2, 3, 4, 5, 5, 5, 5, 3, 3]
position_2 = [0, 0, 0, 0, 0, 1, 2, 3, 1, 2]
print("position 1:", position_1)
print("position 2:", position_2)

# 3. LLaMA: plain causal mask over the same 5-token "prompt + answer".
llama = causal_mask(5)
print("\nLLaMA (causal):")
draw(llama, src + tgt)
assert torch.equal(llama, prefix_lm_mask(5, 0))

panels = [
    ("Flan-T5 (enc-dec, as one matrix)", combined, src + tgt),
    ("GLM blank infilling", glm, tokens),
    ("LLaMA (causal)", llama, src + tgt),
]
fig, axes = new_figure(7.2, 2.6, ncols=3)
for ax, (title, m, labels) in zip(axes, panels, strict=True):
    ax.imshow(m.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(len(labels)), [])  # columns: the same tokens
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
show(
    fig,
    alt="Three attention masks (rows attend to the columns, which are the same "
    "tokens in the same order): encoder-decoder connectivity, GLM's "
    "bidirectional Part A with causal Part B, and LLaMA's lower-triangular "
    "causal mask.",
)

"""VQ image tokens with a straight-through gradient; Transfusion's mask."""

import torch
from matplotlib.colors import ListedColormap
from matplotlib.patches import FancyBboxPatch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.tokenize_vq import (
    transfusion_attention_mask,
    vector_quantize,
    vq_loss,
)

torch.manual_seed(0)

# 1. A 2 x 2 grid of encoder latents (d = 3) quantised against a codebook of
#    K = 5 entries.
codebook = torch.randn(5, 3, requires_grad=True)
z = torch.randn(1, 2, 2, 3, requires_grad=True)  # [batch, h, w, d]
z_q, indices = vector_quantize(z, codebook)
distances = torch.cdist(z.detach().reshape(-1, 3), codebook.detach())
print("distance to each code (rows = latents):")
print(distances.numpy().round(2))
print("image tokens (argmin):", indices.flatten().tolist())
assert torch.equal(indices.flatten(), distances.argmin(dim=1))

# Straight-through: the forward value is the code, the backward pass copies
# the gradient to z.
upstream = torch.randn_like(z_q)
(z_q * upstream).sum().backward(retain_graph=True)
assert torch.allclose(z_q, codebook[indices]) and torch.equal(z.grad, upstream)
print("z_q == codebook[indices] and dL/dz == dL/dz_q (straight-through): OK")
loss = vq_loss(z, codebook[indices]).item()
print(f"codebook + commitment loss (beta = 0.25): {loss:.4f}")

# Raster-order AR needs one forward pass per image token:
# (side / downsampling)^2 sequential steps.
for side, factor in [(256, 16), (512, 16), (1024, 16)]:
    tokens = (side // factor) ** 2
    print(
        f"{side} x {side} px, {factor}x downsampling -> {tokens:>5} image "
        "tokens = sequential AR steps"
    )

# 2. Transfusion's mask for: text, text, <image 1: 3 patches>, text,
#    <image 2: 2 patches>.
image_ids = torch.tensor([0, 0, 1, 1, 1, 0, 2, 2])
mask = transfusion_attention_mask(image_ids)
hand_drawn = [
    "1.......",
    "11......",
    "11111...",
    "11111...",
    "11111...",
    "111111..",
    "11111111",
    "11111111",
]
assert torch.equal(
    mask, torch.tensor([[c == "1" for c in row] for row in hand_drawn])
)
labels = ["t", "t", "i1", "i1", "i1", "t", "i2", "i2"]
print("mask (1 = may attend), rows = queries:")
for label, row in zip(labels, mask.int().tolist(), strict=True):
    print(f"  {label:>2} " + "".join(map(str, row)))

# 3. Figures: the mask, and a schematic of the four families (our drawing,
#    after the papers' overview figures).
fig, ax = new_figure(3.6, 3.2)
allowed = mask.flip(0).float()
allowed[allowed == 0] = float("nan")  # blocked cells stay empty
ax.pcolormesh(allowed.numpy(), cmap=ListedColormap(["C0"]))
ax.set_xticks([c + 0.5 for c in range(8)], labels)
ax.set_yticks([r + 0.5 for r in range(8)], labels[::-1])
ax.set_xlabel("key")
ax.set_ylabel("query")
show(
    fig,
    alt="Transfusion attention mask: causal lower triangle, plus full blocks "
    "inside each image.",
)

families = [
    (
        "token AR",
        [
            "text + VQ tokens",
            "one Transformer",
            "next token (CE)",
            "VQ decoder",
        ],
    ),
    (
        "LLM + diffusion",
        ["text (+ image)", "LLM", "queries / embeds", "diffusion model"],
    ),
    (
        "one model, two losses",
        ["text + latents", "one Transformer", "CE + diffusion", "VAE decoder"],
    ),
    (
        "decoupled encoders",
        [
            "SigLIP in, VQ out",
            "one Transformer",
            "text / VQ heads",
            "VQ decoder",
        ],
    ),
]
fig, ax = new_figure(7.6, 2.8)
for r, (name, boxes) in enumerate(families):
    y = 3 - r
    ax.text(-0.15, y, name, ha="right", va="center", fontsize=9)
    for c, text in enumerate(boxes):
        ax.add_patch(
            FancyBboxPatch(
                (c * 1.6, y - 0.32),
                1.3,
                0.64,
                boxstyle="round,pad=0.03",
                fc="none",
            )
        )
        ax.text(c * 1.6 + 0.65, y, text, ha="center", va="center", fontsize=8)
        if c < len(boxes) - 1:
            ax.annotate(
                "",
                (c * 1.6 + 1.57, y),
                (c * 1.6 + 1.33, y),
                arrowprops={"arrowstyle": "->"},
            )
ax.set_xlim(-2.3, 6.3)
ax.set_ylim(-0.5, 3.5)
ax.axis("off")
show(
    fig,
    alt="Schematic of four designs: token autoregression with a VQ decoder; an "
    "LLM conditioning a diffusion model; one Transformer trained with "
    "next-token and diffusion losses; decoupled encoders for understanding and "
    "generation.",
)

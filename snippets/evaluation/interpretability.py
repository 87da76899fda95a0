"""Cross-attention maps, attention rollout and gradient x input can disagree."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.interpret import attention_rollout, gradient_times_input

torch.manual_seed(3)
side, d, heads = 4, 8, 2
patches = torch.randn(side * side, d)  # a 4x4 grid of image-patch features
# (Wq, Wk, Wv) for 2 self-attention layers over the patches.
self_attn = [[torch.randn(d, d) / d**0.5 for _ in range(3)] for _ in range(2)]
query = torch.randn(d)  # the text token that reads the image, e.g. "dog"
cross = [
    [torch.randn(d, d // heads) / d**0.5 for _ in range(3)]
    for _ in range(heads)
]
readout = torch.randn(d)


def forward(x: torch.Tensor):
    """Two self-attention layers over the patches, then a 2-head
    cross-attention from the text query; returns a scalar "decision"."""
    layer_maps = []
    for wq, wk, wv in self_attn:
        a = torch.softmax((x @ wq) @ (x @ wk).T / d**0.5, dim=-1)  # [16, 16]
        layer_maps.append(a)
        x = x + a @ (x @ wv)  # residual connection
    head_maps, head_outs = [], []
    for wq, wk, wv in cross:
        logits = (query @ wq) @ (x @ wk).T / (d // heads) ** 0.5
        c = torch.softmax(logits, dim=-1)  # [16]
        head_maps.append(c)
        head_outs.append(c @ (x @ wv))
    score = torch.cat(head_outs) @ readout
    return score, torch.stack(layer_maps), torch.stack(head_maps)


score, layer_maps, head_maps = forward(patches)
rollout = attention_rollout(layer_maps)  # [16, 16], residual as 0.5 * I
assert torch.allclose(rollout.sum(-1), torch.ones(16), atol=1e-6)
# Cross-attention (mean over heads) carried back to the input patches.
attention_attr = head_maps.mean(0) @ rollout
grad_attr = gradient_times_input(lambda x: forward(x)[0], patches)


def effect_of_removing(patch: int) -> float:
    """|change of the score| when one patch is zeroed: a crude faithfulness
    check."""
    ablated = patches.clone()
    ablated[patch] = 0.0
    return (forward(ablated)[0] - score).abs().item()


top_attention = attention_attr.argmax().item()
top_gradient = grad_attr.abs().argmax().item()
rank_a = attention_attr.argsort().argsort().float()
rank_g = grad_attr.abs().argsort().argsort().float()
spearman = torch.corrcoef(torch.stack([rank_a, rank_g]))[0, 1].item()
off = (rollout.sum(-1) - 1).abs().max()
print(f"rollout rows sum to 1: max |sum - 1| = {off:.1e}")
print(
    f"top patch by attention rollout: {top_attention}, "
    f"by |gradient x input|: {top_gradient}"
)
print(f"Spearman rank correlation of the two maps: {spearman:.2f}")
effect_a = effect_of_removing(top_attention)
effect_g = effect_of_removing(top_gradient)
print(
    f"|score change| when zeroing patch {top_attention} (attention's pick): "
    f"{effect_a:.3f}"
)
print(
    f"|score change| when zeroing patch {top_gradient} (gradient's pick):  "
    f"{effect_g:.3f}"
)
# The two explanations disagree on the most important patch, and removing
# the gradient's pick changes the score more.
assert top_attention != top_gradient
assert effect_g > effect_a

fig, axes = new_figure(7.2, 2.2, ncols=4)
panels = [
    (head_maps[0], "cross-attn head 1", "viridis"),
    (head_maps[1], "cross-attn head 2", "viridis"),
    (attention_attr, "attention rollout", "viridis"),
    (grad_attr, "gradient x input (±)", "coolwarm"),
]
for ax, (values, title, cmap) in zip(axes, panels, strict=True):
    grid = values.detach().reshape(side, side)
    limit = grid.abs().max().item()
    vmin = -limit if cmap == "coolwarm" else 0.0
    ax.imshow(grid.numpy(), cmap=cmap, vmin=vmin, vmax=limit)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
show(
    fig,
    alt="Four 4 by 4 heatmaps over image patches: two cross-attention heads "
    "that attend to different patches, the attention-rollout map, and a "
    "gradient-times-input map whose strongest patch differs from rollout's.",
)

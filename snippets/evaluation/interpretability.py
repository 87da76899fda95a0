"""Cross-attention maps, attention rollout and gradient x input on a toy model (page: evaluation/interpretability)."""

import torch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.interpret import attention_rollout, gradient_times_input

torch.manual_seed(3)
side, d, heads = 4, 8, 2
patches = torch.randn(side * side, d)  # a 4x4 grid of image-patch features
self_attn = [
    [torch.randn(d, d) / d**0.5 for _ in range(3)] for _ in range(2)
]  # (Wq, Wk, Wv) x 2 layers
query = torch.randn(d)  # the text token that reads the image, e.g. "dog"
cross = [
    [torch.randn(d, d // heads) / d**0.5 for _ in range(3)]
    for _ in range(heads)
]
readout = torch.randn(d)


def forward(x: torch.Tensor):
    """Two self-attention layers over the patches, then a 2-head cross-attention from the text query."""
    layer_maps = []
    for wq, wk, wv in self_attn:
        a = torch.softmax((x @ wq) @ (x @ wk).T / d**0.5, dim=-1)  # [16, 16]
        layer_maps.append(a)
        x = x + a @ (x @ wv)  # residual connection
    head_maps, head_outs = [], []
    for wq, wk, wv in cross:
        c = torch.softmax(
            (query @ wq) @ (x @ wk).T / (d // heads) ** 0.5, dim=-1
        )  # [16]
        head_maps.append(c)
        head_outs.append(c @ (x @ wv))
    score = (
        torch.cat(head_outs) @ readout
    )  # a scalar "decision" for the query token
    return score, torch.stack(layer_maps), torch.stack(head_maps)


score, layer_maps, head_maps = forward(patches)
rollout = attention_rollout(
    layer_maps
)  # [16, 16], residual modelled as 0.5 * I
assert torch.allclose(
    rollout.sum(-1), torch.ones(16), atol=1e-6
)  # every row is a distribution
attention_attr = (
    head_maps.mean(0) @ rollout
)  # cross-attention (head mean) carried back to the input patches
grad_attr = gradient_times_input(lambda x: forward(x)[0], patches)


def effect_of_removing(patch: int) -> float:
    """|change of the score| when one patch is zeroed: a crude faithfulness check."""
    ablated = patches.clone()
    ablated[patch] = 0.0
    return (forward(ablated)[0] - score).abs().item()


top_attention, top_gradient = (
    attention_attr.argmax().item(),
    grad_attr.abs().argmax().item(),
)
rank_a, rank_g = (
    attention_attr.argsort().argsort().float(),
    grad_attr.abs().argsort().argsort().float(),
)
spearman = torch.corrcoef(torch.stack([rank_a, rank_g]))[0, 1].item()
print(
    f"rollout rows sum to 1: max |sum - 1| = {(rollout.sum(-1) - 1).abs().max():.1e}"
)
print(
    f"top patch by attention rollout: {top_attention}, by |gradient x input|: {top_gradient}"
)
print(f"Spearman rank correlation of the two maps: {spearman:.2f}")
print(
    f"|score change| when zeroing patch {top_attention} (attention's pick): {effect_of_removing(top_attention):.3f}"
)
print(
    f"|score change| when zeroing patch {top_gradient} (gradient's pick):  {effect_of_removing(top_gradient):.3f}"
)
assert (
    top_attention != top_gradient
)  # the two explanations disagree on the most important patch
assert effect_of_removing(top_gradient) > effect_of_removing(top_attention)

fig, axes = new_figure(8.0, 2.4, ncols=4)
panels = [
    (head_maps[0], "cross-attn head 1", "viridis"),
    (head_maps[1], "cross-attn head 2", "viridis"),
    (attention_attr, "attention rollout", "viridis"),
    (grad_attr, "gradient x input", "coolwarm"),
]
for ax, (values, title, cmap) in zip(axes, panels, strict=True):
    grid = values.detach().reshape(side, side)
    limit = grid.abs().max().item()
    vmin = -limit if cmap == "coolwarm" else 0.0
    image = ax.imshow(grid.numpy(), cmap=cmap, vmin=vmin, vmax=limit)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(image, ax=ax, shrink=0.8)
show(
    fig,
    alt="Four 4 by 4 heatmaps over image patches: two cross-attention heads that attend to different patches, "
    "the attention-rollout map, and a gradient-times-input map whose strongest patch differs from rollout's.",
)

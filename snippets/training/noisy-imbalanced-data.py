"""Class weights, balanced sampling and focal loss; filtering noisy pairs."""

import torch
import torch.nn.functional as F

from mllm_handbook.figures import new_figure, show
from mllm_handbook.imbalance import (
    balanced_sample_weights,
    class_counts,
    focal_loss,
    inverse_frequency_weights,
    similarity_filter,
    weighted_cross_entropy,
)

torch.manual_seed(0)

# 1. A 95 / 5 imbalanced label set: inverse-frequency class weights.
targets = torch.tensor([0] * 95 + [1] * 5)
counts = class_counts(targets, 2)
weights = inverse_frequency_weights(counts)
rounded = [round(w, 3) for w in weights.tolist()]
print(f"class counts {counts.tolist()} -> weights {rounded}")
logits = torch.randn(100, 2)
assert torch.allclose(
    weighted_cross_entropy(logits, targets, weights),
    F.cross_entropy(logits, targets, weight=weights),
)
print("weighted_cross_entropy == F.cross_entropy(weight=...): OK")

# 2. Balanced sampling: draw with per-example weight 1 / n_class.
sample_weights = balanced_sample_weights(targets, 2)
draws = torch.multinomial(sample_weights, 2000, replacement=True)
share = targets[draws].float().mean().item()
print(
    f"minority share: {counts[1].item() / len(targets):.2f} in the data, "
    f"{share:.2f} in 2000 balanced draws"
)
assert abs(share - 0.5) < 0.05  # from 5 % to about half

# 3. Focal loss: FL = -(1 - p_t)^gamma log p_t down-weights easy examples
#    (Lin et al. 2017, Fig. 1).
p_t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
# Two-class logits [0, log(p_t / (1 - p_t))]: their softmax gives p_t.
two_class_logits = torch.stack([torch.zeros(6), torch.log(p_t / (1 - p_t))], 1)
y = torch.ones(6, dtype=torch.long)
print("  p_t  |  CE    | FL g=2 | FL/CE")
for i, p in enumerate(p_t.tolist()):
    ce = F.cross_entropy(two_class_logits[i : i + 1], y[:1]).item()
    fl = focal_loss(two_class_logits[i : i + 1], y[:1], gamma=2.0).item()
    assert abs(fl - (1 - p) ** 2 * ce) < 1e-6  # the formula, term by term
    print(f" {p:.2f}  | {ce:.4f} | {fl:.4f} | {fl / ce:.4f}")

grid = torch.linspace(0.02, 0.98, 25)
grid_logits = torch.stack([torch.zeros(25), torch.log(grid / (1 - grid))], 1)
fig, ax = new_figure(5.0, 2.8)
for gamma in (0.0, 0.5, 1.0, 2.0, 5.0):
    per_example = [
        focal_loss(grid_logits[i : i + 1], y[:1], gamma=gamma).item()
        for i in range(25)
    ]
    ax.plot(
        grid,
        per_example,
        label=f"gamma = {gamma:g}" + (" (CE)" if gamma == 0 else ""),
    )
ax.set_xlabel("probability of the true class p_t")
ax.set_ylabel("loss")
ax.legend(frameon=False, fontsize=8)
show(
    fig,
    alt="Focal loss versus p_t for gamma 0, 0.5, 1, 2 and 5: larger gamma "
    "shrinks the loss of well-classified examples.",
)

# 4. Noisy web pairs: 20 image-text embeddings, 5 captions replaced by
#    unrelated text; keep cosine >= 0.3.
image = F.normalize(torch.randn(20, 64), dim=-1)
text = F.normalize(image + 0.05 * torch.randn(20, 64), dim=-1)
mismatched = torch.zeros(20, dtype=torch.bool)
mismatched[torch.randperm(20)[:5]] = True
text[mismatched] = F.normalize(torch.randn(int(mismatched.sum()), 64), dim=-1)
keep = similarity_filter(image, text, threshold=0.3)
print(
    f"filter keeps {int(keep.sum())} of 20 pairs; "
    f"mismatched pairs kept: {int((keep & mismatched).sum())} of 5"
)
assert not (keep & mismatched).any() and keep[~mismatched].all()

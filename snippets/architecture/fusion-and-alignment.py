"""Early, late and mid fusion on toy features: which let modalities interact."""

import torch
from torch import nn

from mllm_handbook.fusion import EarlyFusion, MidFusion, late_fusion

torch.manual_seed(0)
batch, img_dim, txt_dim, classes = 4, 6, 5, 3
img, txt = (
    torch.randn(batch, img_dim),
    torch.randn(batch, txt_dim),
)  # pooled features per modality
img_tok, txt_tok = (
    torch.randn(batch, 9, img_dim),
    torch.randn(batch, 7, txt_dim),
)  # token sequences

early = EarlyFusion([img_dim, txt_dim], classes)
img_head, txt_head = (
    nn.Linear(img_dim, classes),
    nn.Linear(txt_dim, classes),
)  # late: one model per modality
mid = MidFusion([img_dim, txt_dim], dim=8, num_classes=classes).eval()


def late(i, t, weights=None):
    return late_fusion([img_head(i), txt_head(t)], weights)


# 1. Late fusion with the text weight set to 0 is exactly the image-only model.
only_image = late(img, txt, torch.tensor([1.0, 0.0]))
assert torch.equal(only_image, img_head(img))
print("late fusion, weights (1, 0) == image head alone: OK")


# 2. Cross-modal interaction: I = f(a, b) - f(a', b) - f(a, b') + f(a', b').
#    It is 0 when the output is a sum of per-modality terms, i.e. the
#    modalities never interact.
def interaction(f, a, b):
    a2, b2 = a + torch.randn_like(a), b + torch.randn_like(b)
    return (f(a, b) - f(a2, b) - f(a, b2) + f(a2, b2)).abs().max().item()


with torch.no_grad():
    scores = {
        "early (concat + MLP)": interaction(
            lambda a, b: early([a, b]), img, txt
        ),
        "late (mean of logits)": interaction(late, img, txt),
        "mid (joint attention)": interaction(
            lambda a, b: mid([a, b]), img_tok, txt_tok
        ),
    }
for name, value in scores.items():
    print(f"{name:<22} max |interaction| = {value:.2e}")
assert scores["late (mean of logits)"] < 1e-6
assert (
    min(scores["early (concat + MLP)"], scores["mid (joint attention)"]) > 1e-3
)

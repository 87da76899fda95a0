"""InfoNCE with hallucinated captions as extra negatives (HACL-style)."""

import torch
import torch.nn.functional as F

from mllm_handbook.hallucination import infonce_with_hallucinated_negatives

torch.manual_seed(0)
num_objects, dim, n = 12, 16, 8
object_image = torch.randn(num_objects, dim)  # looks (image-encoder space)
object_text = torch.randn(num_objects, dim)  # names (text-encoder space)

# Each image holds 3 objects; its hallucinated caption swaps one of them for
# an object that is not there (3 present + 1 absent per image).
objects = torch.stack([torch.randperm(num_objects)[:4] for _ in range(n)])
present, absent = objects[:, :3], objects[:, 3]
images = object_image[present].sum(1) + 0.3 * torch.randn(n, dim)
captions = object_text[present].sum(1)
swapped = captions - object_text[present[:, 0]] + object_text[absent]
hallucinated = swapped.unsqueeze(1)  # [n, 1, dim]

# 1. With no hallucinated captions the loss is plain symmetric InfoNCE.
logits = F.normalize(images, dim=-1) @ F.normalize(captions, dim=-1).T / 0.1
targets = torch.arange(n)
plain = (
    F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)
) / 2
ours = infonce_with_hallucinated_negatives(images, captions, None, 0.1)
assert torch.allclose(ours, plain)
print(f"no hallucinated negatives == plain InfoNCE: {plain:.4f}")


# 2. Train a linear image projection with and without the extra negatives;
#    compare how far the faithful caption ends up above its hallucinated twin
#    (cosine margin, averaged over images).
def train(with_hallucinated: bool, steps: int = 100, lr: float = 0.5) -> float:
    weight = torch.eye(dim).requires_grad_(True)  # the identity to start
    extra = hallucinated if with_hallucinated else None
    for _ in range(steps):  # plain gradient descent
        projected = images @ weight
        loss = infonce_with_hallucinated_negatives(
            projected, captions, extra, 0.1
        )
        (grad,) = torch.autograd.grad(loss, weight)
        weight = (weight - lr * grad).detach().requires_grad_(True)
    with torch.no_grad():
        v = F.normalize(images @ weight, dim=-1)
        faithful = (v * F.normalize(captions, dim=-1)).sum(-1)
        halluc = (v * F.normalize(hallucinated[:, 0], dim=-1)).sum(-1)
    return (faithful - halluc).mean().item()


margin_plain, margin_hacl = train(False), train(True)
margin = "cos(image, faithful) - cos(image, hallucinated), trained"
print(f"{margin} without extra negatives: {margin_plain:.3f}")
print(f"{margin} with extra negatives:    {margin_hacl:.3f}")
assert margin_hacl > margin_plain

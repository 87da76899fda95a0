"""SigLIP's sigmoid loss vs CLIP's softmax, block by block; ViT layer taps."""

import math

import torch

from mllm_handbook.losses import clip_loss, siglip_loss, siglip_loss_chunked
from mllm_handbook.vision import TinyViT, select_vision_features

torch.manual_seed(0)

# 1. Loss at initialisation, when the embeddings carry no signal yet (every
#    image orthogonal to every text: all cosines 0), across batch sizes.
#    CLIP's scale starts at 1/0.07; SigLIP's at t = exp(log 10) with bias
#    b = -10 (b = 0 shown for comparison).
print("    N | CLIP = log N | SigLIP b=-10 | SigLIP b=0 = N log 2")
for n in [4, 16, 64, 256]:
    eye = torch.eye(2 * n, dtype=torch.float64)
    img, txt = eye[:n], eye[n:]  # cos(img_i, txt_j) = 0 for all i, j
    clip = clip_loss(img, txt, 1 / 0.07).item()
    sig = siglip_loss(img, txt, math.exp(math.log(10)), -10.0).item()
    sig0 = siglip_loss(img, txt, 10.0, 0.0).item()
    print(f"{n:>5} | {clip:>12.3f} | {sig:>12.4f} | {sig0:>20.2f}")
    assert math.isclose(clip, math.log(n), rel_tol=1e-12)  # N-way chance
    # One positive at -log sigmoid(-10) ~ 10 and N - 1 negatives at
    # -log sigmoid(10) ~ e^-10 each: b = -10 starts every pair at "no match",
    # the right prior when N - 1 of every N pairs are negatives.
    positive, negative = math.log1p(math.exp(10)), math.log1p(math.exp(-10))
    assert math.isclose(sig, positive + (n - 1) * negative, rel_tol=1e-12)
    assert math.isclose(sig0, n * math.log(2), rel_tol=1e-12)

# 2. No softmax couples the pairs, so the loss over the N x N matrix is a sum
#    of blocks: K "devices" each score their images against one chunk of
#    texts at a time (N = 10 is not a multiple of K = 3, 4 or 7).
img = torch.randn(10, 16, dtype=torch.float64)
txt = torch.randn(10, 16, dtype=torch.float64)
full = siglip_loss(img, txt, 10.0, -10.0)
print(f"full N x N loss: {full.item():.6f}")
for k in [1, 2, 3, 4, 7, 10]:
    chunked = siglip_loss_chunked(img, txt, 10.0, -10.0, k)
    largest = math.ceil(10 / k) ** 2
    print(
        f"K = {k:>2}: chunked loss {chunked.item():.6f}, largest block"
        f" {largest:>3} logits (full matrix: 100)"
    )
    assert torch.allclose(chunked, full, rtol=0, atol=1e-12)

# 3. Layer taps of a tiny ViT (4 blocks): hidden_states[-2] is the
#    penultimate layer, the one LLaVA reads (CLS token dropped).
vit = TinyViT(image_size=32, patch_size=8, dim=16, depth=4, num_heads=2)
vit.eval()
images = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    states = vit(images)
    penultimate = select_vision_features(states)  # layers=-2, drop_cls=True
    multi = select_vision_features(states, layers=(-1, -2, -3))
    for p in vit.blocks[-1].parameters():  # change only the last block
        p.add_(0.5)
    again = vit(images)
print(f"hidden states: {len(states)} tensors of {list(states[0].shape)}")
print(
    f"penultimate tap: {list(penultimate.shape)}; 3 layers: {list(multi.shape)}"
)
assert len(states) == 4 + 1 and penultimate.shape == (2, 16, 16)
assert multi.shape == (2, 16, 48)
assert torch.equal(again[-2], states[-2])  # the tap ignores the last block
assert not torch.allclose(again[-1], states[-1])
print("changing the last block moves h[-1] but leaves h[-2] unchanged")

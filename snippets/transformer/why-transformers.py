"""An image becomes tokens by ViT patch embedding; attention ignores order."""

import torch
import torch.nn.functional as F

from mllm_handbook.vision import patch_embedding, patchify

torch.manual_seed(0)
patch, width = 16, 32
images = torch.randn(2, 3, 64, 64)  # two tiny RGB images
weight, bias = torch.randn(width, 3, patch, patch) * 0.02, torch.zeros(width)

# 1. Patch embedding = "flatten each 16x16 patch, then one shared linear map"
#    = a stride-16 convolution.
tokens = patch_embedding(images, weight, bias)
conv = F.conv2d(images, weight, bias, stride=patch).flatten(2).transpose(1, 2)
assert torch.allclose(tokens, conv, atol=1e-5)
print(
    f"images {list(images.shape)} -> patch tokens {list(tokens.shape)}; "
    f"equals stride-{patch} conv: OK"
)

# 2. How many tokens a Transformer sees per image: N = (H / p) * (W / p).
for side, p in [(224, 16), (224, 14), (336, 14)]:
    n, dim = patchify(torch.zeros(1, 3, side, side), p).shape[1:]
    print(
        f"{side}x{side} image, patch {p:>2}: {n:>3} tokens "
        f"of {dim} raw values each"
    )

# 3. Without position information, self-attention ignores order: permuting
#    the input tokens just permutes the outputs (permutation equivariance).
#    Text and image tokens are treated alike.
text = torch.randn(2, 5, width)
sequence = torch.cat([tokens, text], dim=1)  # [batch, 16 image + 5 text, width]
perm = torch.randperm(sequence.shape[1])


def self_attention(x):
    return F.scaled_dot_product_attention(x, x, x)


out, out_perm = self_attention(sequence), self_attention(sequence[:, perm])
assert torch.allclose(out[:, perm], out_perm, atol=1e-5)
print(
    f"mixed sequence {list(sequence.shape)}: "
    "attention(permuted input) == permuted output: OK"
)

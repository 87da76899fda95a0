"""CLIP's symmetric contrastive loss with a learnable temperature."""

import math

import torch
import torch.nn.functional as F

from mllm_handbook.losses import clip_loss, contrastive_logits, itm_loss

torch.manual_seed(0)
n, d = 4, 8
image_features = torch.randn(n, d)  # image encoder + projection outputs
# Matching captions: similar, not equal.
text_features = image_features + 0.8 * torch.randn(n, d)

# CLIP learns t' = log(1/tau), initialised at log(1/0.07); the multiplier
# exp(t') is clipped at 100.
log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
logit_scale = log_scale.exp().clamp(max=100)
print(f"initial logit_scale = 1/tau = {logit_scale.item():.2f}")

# 1. The two directions: rows (image -> text) and columns (text -> image) of
#    the same logit matrix.
logits = contrastive_logits(image_features, text_features, logit_scale)
labels = torch.arange(n)
loss_i2t = F.cross_entropy(logits, labels)
loss_t2i = F.cross_entropy(logits.T, labels)
loss = clip_loss(image_features, text_features, logit_scale)
print(
    f"image->text {loss_i2t.item():.4f} | text->image {loss_t2i.item():.4f} "
    f"| clip_loss {loss.item():.4f}"
)
assert abs(loss_i2t - loss_t2i) > 1e-3  # differ on a non-symmetric batch
assert torch.allclose(loss, (loss_i2t + loss_t2i) / 2)

# 2. The temperature is trained by the same loss.
loss.backward()
print(f"d loss / d log_scale = {log_scale.grad.item():.4f}")
assert log_scale.grad is not None

# 3. With no signal (all logits equal) the loss is log N: chance level over
#    the N candidates.
same = torch.ones(n, d)
uniform = clip_loss(same, same, 1 / 0.07)
print(
    f"uniform logits: loss {uniform.item():.4f} = log {n} = {math.log(n):.4f}"
)
assert abs(uniform.item() - math.log(n)) < 1e-6

# 4. ITM is a different loss (ALBEF/BLIP, not CLIP): binary CE of a fusion
#    encoder's match head. Pair 0 matches, pair 1 does not.
match_logits = torch.tensor([[-1.0, 2.0], [1.5, -0.5]])
match_labels = torch.tensor([1, 0])
itm = itm_loss(match_logits, match_labels)
log_p = torch.log_softmax(match_logits, dim=-1)
# The formula without the minus sign:
sign_flipped = log_p.gather(1, match_labels[:, None]).mean()
print(
    f"ITM loss {itm.item():.4f} (> 0); "
    f"without the minus sign {sign_flipped.item():.4f} (< 0)"
)
assert itm > 0 > sign_flipped

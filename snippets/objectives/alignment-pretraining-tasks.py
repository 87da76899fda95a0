"""ITC, ITM with hard negatives, and MLM, as in ALBEF/BLIP pre-training."""

import torch
import torch.nn.functional as F

from mllm_handbook.losses import (
    clip_loss,
    contrastive_logits,
    cross_entropy,
    itm_loss,
    sample_hard_negatives,
)

torch.manual_seed(0)
n, d, vocab = 4, 8, 10
image_emb = torch.randn(n, d)  # unimodal [CLS] embeddings after projection
text_emb = image_emb + 0.7 * torch.randn(n, d)

# 1. ITC: the contrastive loss over the batch (symmetric, as in CLIP/ALBEF).
itc = clip_loss(image_emb, text_emb, 1 / 0.07)
sim = contrastive_logits(image_emb, text_emb, 1 / 0.07)  # [N images, N texts]
print(f"ITC loss {itc.item():.4f}")

# 2. Hard negatives for ITM, drawn with probability softmax(similarity),
#    the positive excluded.
g = torch.Generator().manual_seed(0)
neg_text = sample_hard_negatives(sim, generator=g)  # one text per image
neg_image = sample_hard_negatives(sim.T, generator=g)  # one image per text
print(f"negative text for each image:  {neg_text.tolist()}")
print(f"negative image for each text:  {neg_image.tolist()}")
draws = torch.stack(
    [sample_hard_negatives(sim, generator=g) for _ in range(2000)]
)
assert not (draws == torch.arange(n)).any()  # never the positive
# freq[i, j]: how often text j was drawn for image i.
freq = torch.stack([(draws == j).float().mean(0) for j in range(n)], dim=1)
print("empirical P(negative text j | image i), 2000 draws:")
for i in range(n):
    row = " ".join(f"{p:.2f}" for p in freq[i].tolist())
    sims = " ".join(f"{s:5.1f}" for s in sim[i].tolist())
    print(f"  image {i}: {row}   (similarities: {sims})")

# 3. ITM: a fusion encoder (not modelled here) scores N positives + 2N hard
#    negatives; binary CE. Random logits stand in for its ITM head.
match_logits = torch.randn(3 * n, 2)
match_labels = torch.cat([torch.ones(n), torch.zeros(2 * n)]).long()
itm = itm_loss(match_logits, match_labels)
assert torch.allclose(itm, F.cross_entropy(match_logits, match_labels))
print(f"ITM loss on {n} positive + {2 * n} negative pairs: {itm.item():.4f}")

# 4. MLM conditioned on the image: loss only at masked positions (label -100
#    elsewhere). Positions 1 and 4 were masked.
token_logits = torch.randn(6, vocab)
labels = torch.tensor([-100, 3, -100, -100, 7, -100])
mlm = cross_entropy(token_logits, labels)
assert torch.allclose(mlm, F.cross_entropy(token_logits, labels))
masked = int((labels != -100).sum())
print(f"MLM loss over {masked} masked tokens: {mlm.item():.4f}")

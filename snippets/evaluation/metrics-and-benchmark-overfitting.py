"""Recall@K in both retrieval directions from one similarity matrix."""

import torch

from mllm_handbook.metrics import recall_at_k

# similarity[i, j] = cosine(image i, caption j); caption i belongs to image i.
# Image 0 ranks its caption 1st; image 1 2nd (caption 2 scores higher);
# image 2 3rd (captions 1 and 3 score higher); image 3 1st.
similarity = torch.tensor(
    [
        [0.82, 0.30, 0.41, 0.10],
        [0.35, 0.52, 0.61, 0.20],
        [0.30, 0.48, 0.45, 0.47],
        [0.05, 0.12, 0.50, 0.66],
    ]
)
print(f"{'K':>2} | {'image->text R@K':>15} | {'text->image R@K':>15}")
results = {}
for k in range(1, 5):
    i2t, t2i = recall_at_k(similarity, k), recall_at_k(similarity.T, k)
    results[k] = (i2t, t2i)
    print(f"{k:>2} | {i2t:15.2f} | {t2i:15.2f}")

# Hand-computed ranks. Image->text: [1, 2, 3, 1]. Text->image (columns):
# caption 0 -> 1st, caption 1 -> 0.52 vs 0.48 -> 1st, caption 2 -> 0.61 and
# 0.50 beat 0.45 -> 3rd, caption 3 -> 1st.
assert results[1] == (0.5, 0.75) and results[2] == (0.75, 0.75)
assert results[3] == (1.0, 1.0)
assert results[4] == (1.0, 1.0)  # R@N is always 1

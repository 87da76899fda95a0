"""Modality dropout, and fusion that ignores whatever a missing slot holds."""

import torch

from mllm_handbook.fusion import masked_fusion, modality_dropout

torch.manual_seed(0)
names = ["image", "text", "audio"]
# [batch, modality, dim], features centred away from 0.
features = torch.randn(6, 3, 4) + 2.0

# 1. Training time: drop whole modalities per sample (p = 0.5), never all of
#    them.
generator = torch.Generator().manual_seed(1)
dropped, mask = modality_dropout(features, p=0.5, generator=generator)
print("present modalities per sample (1 = kept):")
for row in mask.int().tolist():
    print("   ", dict(zip(names, row, strict=True)))
assert mask.any(dim=1).all()

# 2. Mask-aware fusion ignores whatever sits in a missing slot: zeros, noise
#    or NaN give the same output.
fused = masked_fusion(dropped, mask)
for fill in [0.0, 100.0, float("nan")]:
    fillers = torch.full_like(features, fill)
    filled = torch.where(mask.unsqueeze(-1), features, fillers)
    assert torch.equal(masked_fusion(filled, mask), fused)
print("masked_fusion output identical for fill values 0, 100, NaN: OK")

# 3. Naive fusion (mean over all slots, zeros for missing) shrinks the vector
#    towards 0 instead.
naive = dropped.mean(dim=1)
full = features.mean(dim=1)  # what the complete sample would give
print(
    f"{'sample':>6} | {'kept':>4} | {'masked mean':>11} | {'naive mean':>10} "
    f"| {'all present':>11}"
)
for i in range(features.shape[0]):
    kept = int(mask[i].sum())
    print(
        f"{i:>6} | {kept:>4} | {fused[i].norm():11.3f} "
        f"| {naive[i].norm():10.3f} | {full[i].norm():11.3f}"
    )
# Zero-filling + plain mean = (kept / total) x the masked mean: the input
# "looks" k/M times weaker.
shrink = mask.sum(dim=1, keepdim=True) / mask.shape[1]
assert torch.allclose(naive, shrink * fused, atol=1e-6)

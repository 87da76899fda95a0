"""Connectors side by side: token counts, parameters, Flamingo's zero gate."""

import torch

from mllm_handbook.connectors import (
    GatedCrossAttentionBlock,
    LinearProjector,
    MLPProjector,
    QueryResampler,
)

torch.manual_seed(0)
vision_dim, llm_dim, num_queries = 32, 48, 8
connectors = {
    "linear (LLaVA)": LinearProjector(vision_dim, llm_dim),
    "MLP (LLaVA-1.5)": MLPProjector(vision_dim, llm_dim),
}
resampler = QueryResampler(vision_dim, llm_dim, num_queries, num_heads=4)
connectors["resampler (8 queries)"] = resampler

# 1. How many tokens reach the LLM for images with 16, 64 and 576 patches
#    (576 = 24 x 24, LLaVA-1.5's 336 px)?
patch_counts = [16, 64, 576]
print(
    f"{'connector':<22} | {'params':>6} | "
    + " | ".join(f"N={n:>3}" for n in patch_counts)
)
for name, module in connectors.items():
    tokens = [
        module(torch.randn(1, n, vision_dim)).shape[1] for n in patch_counts
    ]
    params = sum(p.numel() for p in module.parameters())
    print(
        f"{name:<22} | {params:>6} | " + " | ".join(f"{t:>5}" for t in tokens)
    )
    if "resampler" in name:  # independent of the patch count
        assert tokens == [num_queries] * len(patch_counts)
    else:
        assert tokens == patch_counts  # one LLM token per patch

# 2. Flamingo's gated cross-attention: with tanh(0) = 0 the LM's hidden
#    states pass through unchanged.
block = GatedCrossAttentionBlock(dim=llm_dim, vision_dim=llm_dim, num_heads=4)
hidden = torch.randn(2, 5, llm_dim)  # text states entering a frozen LM layer
visual = connectors["resampler (8 queries)"](torch.randn(2, 64, vision_dim))
for alpha in [0.0, 0.1, 1.0]:
    with torch.no_grad():
        block.alpha_xattn.fill_(alpha)
        block.alpha_dense.fill_(alpha)
        change = (block(hidden, visual) - hidden).abs().max().item()
    gate = torch.tanh(torch.tensor(alpha)).item()
    print(
        f"gate alpha = {alpha:.1f}: tanh = {gate:.3f}, "
        f"max |change| = {change:.4f}"
    )
    if alpha == 0.0:
        assert change == 0.0

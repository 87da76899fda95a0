"""Token merging, pooling, resampling and FastV pruning, and what they save."""

import torch
import torch.nn.functional as F

from mllm_handbook.attention import attention_weights
from mllm_handbook.connectors import (
    PatchMerger,
    QueryResampler,
    avg_pool_tokens,
    fastv_prune,
    internvl_pixel_shuffle,
    space_to_depth,
)

torch.manual_seed(0)
C = 16  # ViT width (1024 in CLIP ViT-L/14, 1280 in Qwen2-VL's ViT)
grid = torch.randn(1, 24 * 24, C)  # LLaVA-1.5: 336 px / 14 = 24 x 24 patches

# 1. 2 x 2 space-to-depth: tokens / 4, channels x 4, nothing thrown away.
merged = space_to_depth(grid, 24, 24)
as_image = grid.reshape(1, 24, 24, C).permute(0, 3, 1, 2)  # [1, C, H, W]
ref = F.pixel_unshuffle(as_image, 2).flatten(2).transpose(1, 2)
assert torch.equal(merged, ref)
# InternVL's "pixel shuffle" is the same merge, with its 4C channels in
# another fixed order (the next linear layer absorbs any order).
theirs = internvl_pixel_shuffle(grid.reshape(1, 24, 24, C)).reshape(1, 144, -1)
perm = [int((merged[0, 0] == x).nonzero()) for x in theirs[0, 0]]
assert torch.equal(merged[..., perm], theirs)

# 2. Qwen2-VL's merger (LayerNorm, concat 2 x 2, MLP 4C -> 4C -> d),
#    average pooling, and a query resampler with 64 or 32 learned queries.
llm_dim = 24
outputs = {
    "none (LLaVA-1.5 MLP)": grid,
    "2x2 merge (Qwen2-VL)": PatchMerger(C, llm_dim)(grid, 24, 24),
    "pixel unshuffle (InternVL)": merged,
    "2x2 average pool": avg_pool_tokens(grid, 24, 24),
    "3x3 average pool": avg_pool_tokens(grid, 24, 24, stride=3),
    "resampler, 64 queries": QueryResampler(C, llm_dim, 64, 4)(grid),
    "resampler, 32 queries": QueryResampler(C, llm_dim, 32, 4)(grid),
}
print(f"{'576 patches of width 16 ->':<27} | tokens | width")
for name, out in outputs.items():
    print(f"{name:<27} | {out.shape[1]:>6} | {out.shape[2]:>5}")
shapes = {name: tuple(out.shape[1:]) for name, out in outputs.items()}
assert shapes["2x2 merge (Qwen2-VL)"] == (144, llm_dim)
assert shapes["pixel unshuffle (InternVL)"] == (144, 4 * C)
assert shapes["2x2 average pool"] == (144, C)
assert shapes["3x3 average pool"] == (64, C)
assert shapes["resampler, 64 queries"] == (64, llm_dim)
assert shapes["resampler, 32 queries"] == (32, llm_dim)
# Pooling = the mean of the four neighbours that space-to-depth stacks.
four = merged.reshape(1, 144, C, 4)
assert torch.allclose(outputs["2x2 average pool"], four.mean(-1))

# 3. FastV-style pruning inside the LLM: after layer K, keep the image
#    tokens the last token attends to most; kept tokens keep their ids.
sys_len, img_len, txt_len = 3, 12, 4
length = sys_len + img_len + txt_len
hidden = torch.randn(1, length, 8)
q, k = torch.randn(1, 4, length, 8), torch.randn(1, 4, length, 8)
attn = attention_weights(q, k, is_causal=True)  # layer K's weights
kept, pos = fastv_prune(hidden, attn, sys_len, img_len, num_keep=img_len // 2)
print(f"FastV keeps {img_len // 2} of {img_len} image tokens; position ids:")
print("  " + " ".join(map(str, pos[0].tolist())))
assert kept.shape[1] == length - img_len // 2
assert pos[0, :sys_len].tolist() == [0, 1, 2]  # system prompt untouched
assert pos[0, -txt_len:].tolist() == list(range(length - txt_len, length))
assert torch.equal(kept[0], hidden[0, pos[0]])

# 4. Prefill FLOPs of a 7B LLM with the shape of LLaMA-2-7B (32 layers,
#    width 4096, SwiGLU width 11008; LLaVA-1.5-7B's Vicuna-7B), 64 text
#    tokens after the image. Per layer: 2 FLOPs per weight per token,
#    and 4 n^2 d for the QK^T and AV products over the full n x n scores;
#    embedding, LM head, norms, softmax and RoPE are left out.
layers, d, ffn = 32, 4096, 11008
weights = 4 * d * d + 3 * d * ffn  # per layer: W_q, W_k, W_v, W_o + SwiGLU


def prefill_flops(tokens_per_layer):
    return sum(2 * weights * n + 4 * n * n * d for n in tokens_per_layer)


text = 64
full = prefill_flops([576 + text] * layers)
rows = {
    "576 (LLaVA-1.5)": [576 + text] * layers,
    "144 (2x2 merge)": [144 + text] * layers,
    "64 (resampler)": [64 + text] * layers,
    "FastV K=2, R=50%": [576 + text] * 2 + [288 + text] * (layers - 2),
}
print("visual tokens     | prefill TFLOPs | share of 576")
shares = {}
for name, per_layer in rows.items():
    flops = prefill_flops(per_layer)
    shares[name] = flops / full
    print(f"{name:<17} | {flops / 1e12:>14.2f} | {flops / full:>11.1%}")
assert abs(layers * weights / 6.48e9 - 1) < 0.01  # about 6.48B weights
assert round(full / 1e12, 2) == 8.50
percent = {name: round(100 * share, 1) for name, share in shares.items()}
assert percent["144 (2x2 merge)"] == 31.9
assert percent["64 (resampler)"] == 19.6
assert percent["FastV K=2, R=50%"] == 57.2  # a 42.8% saving

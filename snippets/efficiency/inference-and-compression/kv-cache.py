"""Decoding with a KV cache equals full recomputation; what the cache costs."""

import torch

from mllm_handbook.compression import (
    causal_self_attention,
    kv_cache_bytes,
    kv_cache_step,
)

torch.manual_seed(0)

# One token per step with the cache == recomputing the whole prefix.
x = torch.randn(1, 12, 16)
w_q, w_k, w_v = (torch.randn(16, 8) / 4 for _ in range(3))
cache, steps = None, []
for t in range(x.shape[1]):
    out, cache = kv_cache_step(x[:, t : t + 1], w_q, w_k, w_v, cache)
    steps.append(out)
full = causal_self_attention(x, w_q, w_k, w_v)
assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-6)
n = x.shape[1]
print(f"KV-cache decoding == full recomputation over {n} steps: OK")
print(f"K/V projections: {n} with the cache vs {n * (n + 1) // 2} without")

# The price is memory: 2 (K and V) x layers x KV heads x head dim x tokens
# x bytes per value.
cache_gib = {}
for name, kv_heads in [("MHA, 32 KV heads", 32), ("GQA, 8 KV heads", 8)]:
    size = kv_cache_bytes(32, kv_heads, 128, 4096, batch=1, bytes_per_value=2)
    cache_gib[kv_heads] = size / 2**30
    print(f"32 layers, {name}, 4096 tokens, fp16: {size / 2**30:.2f} GiB")
assert cache_gib == {32: 2.0, 8: 0.5}  # LLaMA-2-7B's shape: 2 GiB; GQA-8: 1/4

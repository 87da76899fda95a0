"""A paged KV cache: exactness, memory waste, sharing and batching."""

import torch

from mllm_handbook.compression import kv_cache_step
from mllm_handbook.scaling import kv_cache_bytes_per_token
from mllm_handbook.serving import (
    PagedKVCache,
    continuous_batching,
    paged_attention,
    paged_slots,
    preallocated_slots,
    static_batching,
)

torch.manual_seed(0)

# 1. Three sequences decode in turns; their K/V land in scattered 8-token
#    blocks of one pool. Reading through the block table gives back exactly
#    the contiguous cache of compression.kv_cache_step, and the same attention.
d_model, d = 16, 8
w_q, w_k, w_v = (torch.randn(d_model, d) / 4 for _ in range(3))
lengths = {0: 5, 1: 19, 2: 33}
xs = {s: torch.randn(1, n, d_model) for s, n in lengths.items()}
paged = PagedKVCache(num_blocks=12, block_size=8, num_heads=1, head_dim=d)
contiguous = dict.fromkeys(lengths)
for t in range(max(lengths.values())):
    for s, n in lengths.items():
        if t >= n:
            continue
        x_t = xs[s][:, t : t + 1]
        out, contiguous[s] = kv_cache_step(x_t, w_q, w_k, w_v, contiguous[s])
        paged.append(s, (x_t @ w_k)[0], (x_t @ w_v)[0])
        tab = paged.block_tables[s]
        got = paged_attention(x_t @ w_q, paged.k_pool, paged.v_pool, tab, t + 1)
        assert torch.allclose(got, out, atol=1e-6)
for s in lengths:
    k, v = paged.gather(s)
    assert torch.equal(k, contiguous[s][0]) and torch.equal(v, contiguous[s][1])
    print(
        f"sequence {s}: {lengths[s]:>2} tokens, blocks {paged.block_tables[s]}"
    )
print("gathered K/V == contiguous cache; paged attention == kv_cache_step")

# 2. Memory: buffers sized for max_len vs 16-token blocks, on 1000 sampled
#    requests (synthetic lognormal prompt and output lengths, seed 0).
n_req, max_len, b = 1000, 2048, 16
prompt = torch.exp(torch.randn(n_req) * 0.8 + 5.0).clamp(4, 1024).long()
output = torch.exp(torch.randn(n_req) * 0.9 + 5.2).clamp(1, 1024).long()
total = (prompt + output).tolist()
used = sum(total)
pre = preallocated_slots(total, max_len)
pag = paged_slots(total, block_size=b)
assert pag - used <= n_req * (b - 1)  # at most one partly filled block each
assert round(used / n_req) == 442
print(f"\n{n_req} requests, mean length {used / n_req:.0f} tokens")
print("allocation              slots held   used by tokens")
print(f"contiguous, {max_len} each  {pre:>10}   {used / pre:>13.1%}")
print(f"paged, {b}-token blocks  {pag:>10}   {used / pag:>13.1%}")
assert 0.21 < used / pre < 0.22 and used / pag > 0.98

# 3. Parallel sampling: 4 samples of a 40-token prompt share its blocks;
#    the half-full last block is copied when a sample first writes to it.
cache = PagedKVCache(num_blocks=32, block_size=b, num_heads=1, head_dim=d)
prompt_kv = torch.randn(40, 1, d)
for t in range(40):
    cache.append(0, prompt_kv[t], prompt_kv[t])
for child in (1, 2, 3):
    cache.fork(0, child)
new_kv = torch.randn(4, 20, 1, d)
for t in range(20):
    for s in range(4):
        cache.append(s, new_kv[s, t], new_kv[s, t])
for s in range(4):
    k, _ = cache.gather(s)
    assert torch.equal(k, torch.cat([prompt_kv, new_kv[s]]).transpose(0, 1))
shared_blocks = 32 - len(cache.allocator.free)
alone = 4 * (-(-60 // b))
assert (shared_blocks, alone) == (10, 16)
print(f"\n4 samples x (40 + 20) tokens: {shared_blocks} blocks shared vs")
print(f"{alone} unshared ({1 - shared_blocks / alone:.1%} fewer)")

# 4. Scheduling the first 200 sampled requests with the KV budget of 16
#    max-length buffers (LLaMA-2-7B in fp16: 32 layers x 32 KV heads x 128
#    dims). Paged, each request holds the blocks of its final length from
#    the start (a simplification: vLLM adds blocks as tokens arrive and
#    preempts a request when none is left). The exact counts asserted at
#    the end come from this seed (torch.manual_seed(0)).
per_token = kv_cache_bytes_per_token(32, 32, 128)
gib = per_token * 16 * max_len / 2**30
assert per_token == 2**19 and gib == 16  # 0.5 MiB per token
out_lens, footprint = output[:200].tolist(), total[:200]
budget = 16 * max_len
runs = {
    "static, batches of 16": static_batching(out_lens, 16),
    "continuous, 16 buffers": continuous_batching(
        out_lens, 256, [max_len] * 200, budget
    ),
    "continuous, paged": continuous_batching(
        out_lens, 256, [paged_slots([n], b) for n in footprint], budget
    ),
}
print(f"\nKV budget {budget} token slots = {gib:.0f} GiB for LLaMA-2-7B")
print("scheduler                iterations  tokens/iteration  mean finish")
for name, finish in runs.items():
    steps, mean = max(finish), sum(finish) / len(finish)
    rate = sum(out_lens) / steps
    print(f"{name:<24} {steps:>10} {rate:>17.1f} {mean:>12.0f}")
ends = [max(f) for f in runs.values()]
means = [round(sum(f) / len(f)) for f in runs.values()]
assert ends == [10622, 3496, 1536] and means == [5858, 1555, 480]

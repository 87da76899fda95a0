"""serving: paged KV cache against a contiguous cache and PyTorch attention; batching against list scheduling."""

import heapq

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.compression import kv_cache_step
from mllm_handbook.serving import (
    BlockAllocator,
    PagedKVCache,
    blocks_needed,
    continuous_batching,
    gather_kv,
    paged_attention,
    paged_slots,
    preallocated_slots,
    static_batching,
)


def test_blocks_needed():
    assert [blocks_needed(n, 4) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]
    assert blocks_needed(7, 1) == 7  # valid edge: one token per block
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        blocks_needed(3, 0)


def test_allocator_reference_counts():
    alloc = BlockAllocator(3)
    a, b = alloc.allocate(), alloc.allocate()
    assert (a, b) == (0, 1)
    alloc.share(a)
    alloc.release(a)
    assert alloc.ref_count[a] == 1 and a not in alloc.free  # still used by one sequence
    alloc.release(a)
    assert alloc.ref_count[a] == 0 and a in alloc.free
    assert alloc.allocate() == a and alloc.allocate() == 2  # a freed block is handed out again
    with pytest.raises(ValueError, match="out of KV blocks"):
        alloc.allocate()


def test_allocator_bad_use():
    alloc = BlockAllocator(1)  # valid edge: a pool of one block
    with pytest.raises(ValueError, match="not allocated"):
        alloc.release(0)
    with pytest.raises(ValueError, match="not allocated"):
        alloc.share(0)
    with pytest.raises(ValueError, match="num_blocks must be >= 1"):
        BlockAllocator(0)


def test_gather_through_a_scrambled_table_equals_contiguous():
    g = torch.Generator().manual_seed(0)
    block_size, heads, d, seq_len = 4, 3, 5, 10  # 10 tokens: 3 blocks, the last one half full
    contiguous = torch.randn(heads, seq_len, d, generator=g)
    pool = torch.randn(8, block_size, heads, d, generator=g)  # other blocks hold other sequences' data
    table = [6, 1, 3]
    for t in range(seq_len):
        pool[table[t // block_size], t % block_size] = contiguous[:, t]
    torch.testing.assert_close(gather_kv(pool, table, seq_len), contiguous)
    assert gather_kv(pool, table, 12).shape == (heads, 12, d)  # valid edge: every slot used
    with pytest.raises(ValueError, match="3 blocks cannot hold 13 tokens"):
        gather_kv(pool, table, 13)


def test_paged_cache_of_interleaved_sequences_equals_contiguous_and_sdpa():
    g = torch.Generator().manual_seed(1)
    heads, d, block_size = 2, 8, 4
    cache = PagedKVCache(num_blocks=20, block_size=block_size, num_heads=heads, head_dim=d)
    lengths = {0: 5, 1: 11, 2: 1}
    ks = {s: torch.randn(n, heads, d, generator=g) for s, n in lengths.items()}
    vs = {s: torch.randn(n, heads, d, generator=g) for s, n in lengths.items()}
    for t in range(max(lengths.values())):  # tokens of the three sequences arrive interleaved
        for s, n in lengths.items():
            if t < n:
                cache.append(s, ks[s][t], vs[s][t])
    for s, n in lengths.items():
        k, v = cache.gather(s)
        torch.testing.assert_close(k, ks[s].transpose(0, 1))
        torch.testing.assert_close(v, vs[s].transpose(0, 1))
        assert len(cache.block_tables[s]) == blocks_needed(n, block_size)
        q = torch.randn(heads, 3, d, generator=g)
        out = paged_attention(q, cache.k_pool, cache.v_pool, cache.block_tables[s], n)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert cache.k_pool.dtype == torch.float32  # the default dtype
    cache.free(1)
    assert len(cache.allocator.free) == 20 - 2 - 1  # sequence 1's three blocks are back


def test_paged_attention_equals_the_contiguous_kv_cache_step():
    g = torch.Generator().manual_seed(2)
    d_model, d, steps = 6, 4, 7
    w_q, w_k, w_v = (torch.randn(d_model, d, generator=g, dtype=torch.float64) for _ in range(3))
    x = torch.randn(1, steps, d_model, generator=g, dtype=torch.float64)
    paged, cache = PagedKVCache(4, block_size=3, num_heads=1, head_dim=d, dtype=torch.float64), None
    for t in range(steps):
        out, cache = kv_cache_step(x[:, t : t + 1], w_q, w_k, w_v, cache)
        paged.append(0, (x[0, t] @ w_k)[None], (x[0, t] @ w_v)[None])
        q = (x[0, t : t + 1] @ w_q)[None]  # [heads=1, 1, d]
        got = paged_attention(q, paged.k_pool, paged.v_pool, paged.block_tables[0], t + 1)
        torch.testing.assert_close(got, out)


def test_fork_shares_blocks_and_copies_on_write():
    cache = PagedKVCache(num_blocks=10, block_size=4, num_heads=1, head_dim=2)
    prompt = torch.arange(14.0).reshape(7, 1, 2)  # 7 tokens: one full block and one with 3 of 4 slots
    for t in range(7):
        cache.append(0, prompt[t], -prompt[t])
    cache.fork(0, 1)
    cache.fork(0, 2)
    full, partial = cache.block_tables[0]
    assert cache.allocator.ref_count[full] == 3 and cache.allocator.ref_count[partial] == 3
    cache.append(1, torch.full((1, 2), 100.0), torch.full((1, 2), 100.0))  # child writes into a shared block
    assert cache.block_tables[1][0] == full and cache.block_tables[1][1] != partial  # copied, not shared
    assert cache.allocator.ref_count[partial] == 2
    k0, _ = cache.gather(0)
    k1, v1 = cache.gather(1)
    torch.testing.assert_close(k0[0], prompt[:, 0])  # the parent is untouched
    torch.testing.assert_close(k1[0, :7], prompt[:, 0])
    torch.testing.assert_close(v1[0, 7], torch.full((2,), 100.0))
    cache.append(1, torch.zeros(1, 2), torch.zeros(1, 2))  # block now full and private: new block, no copy
    assert cache.lengths[1] == 9 and len(cache.block_tables[1]) == 3
    with pytest.raises(ValueError, match="already exists"):
        cache.fork(0, 2)
    for seq in (0, 1, 2):
        cache.free(seq)
    assert sorted(cache.allocator.free) == list(range(10)) and not any(cache.allocator.ref_count)


def test_fork_after_a_full_block_needs_no_copy():
    cache = PagedKVCache(num_blocks=4, block_size=2, num_heads=1, head_dim=1)
    for t in range(4):
        cache.append(0, torch.tensor([[float(t)]]), torch.tensor([[float(t)]]))
    cache.fork(0, 1)
    cache.append(1, torch.tensor([[9.0]]), torch.tensor([[9.0]]))
    assert cache.block_tables[1][:2] == cache.block_tables[0]  # both full blocks still shared
    assert len(cache.allocator.free) == 1


def test_slot_counts_and_the_one_block_bound():
    lengths = [1, 16, 17, 100, 33]
    assert preallocated_slots(lengths, max_len=128) == 5 * 128
    assert preallocated_slots(lengths, max_len=100) == 500  # valid edge: the longest fits exactly
    assert paged_slots(lengths, block_size=16) == 16 + 16 + 32 + 112 + 48
    assert paged_slots(lengths, block_size=1) == sum(lengths)
    for b in (2, 7, 16):
        waste = paged_slots(lengths, b) - sum(lengths)
        assert 0 <= waste <= len(lengths) * (b - 1)
    with pytest.raises(ValueError, match="exceeds max_len"):
        preallocated_slots(lengths, max_len=99)


def test_static_batching_by_hand():
    # batches [3, 1, 4] -> 4, [1, 5, 9] -> 4 + 9, [2, 6] -> 13 + 6
    assert static_batching([3, 1, 4, 1, 5, 9, 2, 6], 3) == [4, 4, 4, 13, 13, 13, 19, 19]
    assert static_batching([3, 1, 4], 1) == [3, 4, 8]
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        static_batching([3], 0)


def list_scheduling(lengths, slots):
    """Reference: each request starts, in order, on the slot that frees up first."""
    free_at, finish = [0] * slots, []
    for n in lengths:
        start = heapq.heappop(free_at)
        finish.append(start + n)
        heapq.heappush(free_at, start + n)
    return finish


@pytest.mark.parametrize("max_batch", [1, 2, 3, 5, 16])
def test_continuous_batching_is_list_scheduling(max_batch):
    lengths = torch.randint(1, 40, (23,), generator=torch.Generator().manual_seed(max_batch)).tolist()
    assert continuous_batching(lengths, max_batch) == list_scheduling(lengths, max_batch)


def test_continuous_batching_beats_static_on_mixed_lengths():
    lengths = [3, 1, 4, 1, 5, 9, 2, 6]
    static, continuous = static_batching(lengths, 3), continuous_batching(lengths, 3)
    assert continuous == [3, 1, 4, 2, 7, 12, 6, 12]
    assert max(continuous) < max(static) and sum(continuous) < sum(static)
    assert continuous_batching(lengths, 1) == static_batching(lengths, 1)


def test_continuous_batching_under_a_kv_budget():
    lengths = [4, 2, 3, 1]
    # budget 10: requests 0 (6 slots) and 1 (4) run; request 2 (6) waits until request 0 leaves at 4,
    # and request 3 (2) waits behind it (first come, first served), so it ends at 4 + 1
    got = continuous_batching(lengths, max_batch=8, kv_footprints=[6, 4, 6, 2], kv_slots=10)
    assert got == [4, 2, 7, 5]
    unlimited = continuous_batching(lengths, max_batch=8)
    # default (no footprints): no memory limit, the same as a budget everything fits in
    assert unlimited == continuous_batching(lengths, 8, kv_footprints=[1] * 4, kv_slots=4)
    assert unlimited == lengths
    with pytest.raises(ValueError, match="exceeds the whole budget"):
        continuous_batching(lengths, 8, kv_footprints=[11, 1, 1, 1], kv_slots=10)
    with pytest.raises(ValueError, match="must be >= 1"):
        continuous_batching([2, 0], 2)
    with pytest.raises(ValueError, match="must be >= 1"):
        continuous_batching([2, 1], 0)

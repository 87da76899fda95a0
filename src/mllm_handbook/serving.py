r"""LLM serving: a paged KV cache (vLLM's PagedAttention) and iteration-level batching (Orca).

* **PagedAttention** (Kwon et al., 2023, SOSP; arXiv 2309.06180) stores the KV cache in fixed-size
  *blocks* of ``block_size`` tokens taken from one shared pool. Each sequence has a *block table* mapping
  its logical block $i$ (tokens $ib, \dots, ib + b - 1$) to a physical block, as an OS page table maps
  virtual pages to frames. Blocks are allocated on demand, so a sequence wastes at most the unused slots of
  its last block, and blocks can be shared between sequences with reference counts and copy-on-write.
* **Iteration-level scheduling** (Yu et al., 2022, OSDI, "Orca"; now usually called continuous batching)
  re-forms the batch after every decoding iteration: finished requests leave at once and waiting ones join,
  instead of the whole batch running until its longest request is done.
"""

from __future__ import annotations

from collections import deque

import torch

from mllm_handbook._checks import check
from mllm_handbook.attention import scaled_dot_product_attention


def blocks_needed(num_tokens: int, block_size: int) -> int:
    r"""Number of blocks that hold ``num_tokens`` tokens, $\lceil n / b \rceil$.

    Args:
        num_tokens: $n \ge 0$.
        block_size: $b \ge 1$ tokens per block.

    Returns:
        $\lceil n / b \rceil$.
    """
    check(block_size >= 1, f"block_size must be >= 1, got {block_size}")
    return -(-num_tokens // block_size)


class BlockAllocator:
    r"""A free list of physical KV blocks with reference counts (Kwon et al., 2023, §4.2).

    A block returns to the free list when its reference count drops to 0, so a block shared by several
    sequences (a common prompt, beams) is stored once and freed only when its last user is done.

    Args:
        num_blocks: size of the pool.
    """

    def __init__(self, num_blocks: int) -> None:
        check(num_blocks >= 1, f"num_blocks must be >= 1, got {num_blocks}")
        self.free = list(range(num_blocks - 1, -1, -1))  # pop() hands out 0, 1, 2, ...
        self.ref_count = [0] * num_blocks

    def allocate(self) -> int:
        """Take a free block; its reference count becomes 1."""
        check(len(self.free) > 0, "out of KV blocks: a server would preempt a sequence here")
        block = self.free.pop()
        self.ref_count[block] = 1
        return block

    def share(self, block: int) -> None:
        """One more sequence uses ``block``."""
        check(self.ref_count[block] > 0, f"block {block} is not allocated")
        self.ref_count[block] += 1

    def release(self, block: int) -> None:
        """One sequence stops using ``block``; free it when nobody uses it."""
        check(self.ref_count[block] > 0, f"block {block} is not allocated")
        self.ref_count[block] -= 1
        if self.ref_count[block] == 0:
            self.free.append(block)


def gather_kv(pool: torch.Tensor, block_table: list[int], seq_len: int) -> torch.Tensor:
    r"""Read one sequence's keys (or values) out of the block pool through its block table.

    Logical token $t$ lives in physical block ``block_table[t // b]`` at slot $t \bmod b$:

    $$K_{t} = \mathrm{pool}\left[\mathrm{table}[\lfloor t / b \rfloor],\ t \bmod b\right]$$

    Args:
        pool: ``[num_blocks, block_size, heads, head_dim]`` physical blocks.
        block_table: physical block ids of logical blocks $0, 1, \dots$
        seq_len: number of tokens of the sequence.

    Returns:
        ``[heads, seq_len, head_dim]``, the same tensor a contiguous cache would hold.
    """
    block_size = pool.shape[1]
    check(seq_len <= len(block_table) * block_size, f"{len(block_table)} blocks cannot hold {seq_len} tokens")
    t = torch.arange(seq_len)
    physical = torch.tensor(block_table, dtype=torch.long)[t // block_size]
    return pool[physical, t % block_size].transpose(0, 1)


def paged_attention(
    q: torch.Tensor, k_pool: torch.Tensor, v_pool: torch.Tensor, block_table: list[int], seq_len: int
) -> torch.Tensor:
    r"""PagedAttention (Kwon et al., 2023, §4.1): attention over cached K/V read through a block table.

    $$\mathrm{out} = \mathrm{softmax}\left(\frac{q K^\top}{\sqrt{d}}\right) V,\quad
    K, V = \text{the } \texttt{seq\_len} \text{ cached tokens gathered from the pools}$$

    No mask: in a decoding step the cache only holds the past. The CUDA kernel of vLLM reads the blocks
    in place instead of gathering them into a copy; the result is the same.

    Args:
        q: ``[heads, L_q, head_dim]`` queries (``L_q = 1`` in a decoding step).
        k_pool: ``[num_blocks, block_size, heads, head_dim]``.
        v_pool: ``[num_blocks, block_size, heads, head_dim]``.
        block_table: the sequence's physical block ids.
        seq_len: number of cached tokens.

    Returns:
        ``[heads, L_q, head_dim]``.
    """
    k = gather_kv(k_pool, block_table, seq_len)
    v = gather_kv(v_pool, block_table, seq_len)
    return scaled_dot_product_attention(q, k, v)


class PagedKVCache:
    r"""KV cache of many sequences in one pool of blocks, with block tables and copy-on-write sharing.

    Args:
        num_blocks: blocks in the pool.
        block_size: tokens per block ($b$; vLLM's default is 16).
        num_heads: KV heads.
        head_dim: width of each head.
        dtype: dtype of the pools.
    """

    def __init__(
        self,
        num_blocks: int,
        block_size: int,
        num_heads: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        check(block_size >= 1, f"block_size must be >= 1, got {block_size}")
        self.block_size = block_size
        self.allocator = BlockAllocator(num_blocks)
        self.k_pool = torch.zeros(num_blocks, block_size, num_heads, head_dim, dtype=dtype)
        self.v_pool = torch.zeros_like(self.k_pool)
        self.block_tables: dict[int, list[int]] = {}
        self.lengths: dict[int, int] = {}

    def append(self, seq: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write one token's key and value (each ``[heads, head_dim]``) at the end of sequence ``seq``."""
        table = self.block_tables.setdefault(seq, [])
        n = self.lengths.get(seq, 0)
        slot = n % self.block_size
        if slot == 0:  # no block yet, or the last one is full: take a new block
            table.append(self.allocator.allocate())
        elif self.allocator.ref_count[table[-1]] > 1:  # the last block is shared: copy before writing
            table[-1] = self._copy_on_write(table[-1])
        self.k_pool[table[-1], slot] = k
        self.v_pool[table[-1], slot] = v
        self.lengths[seq] = n + 1

    def _copy_on_write(self, block: int) -> int:
        new = self.allocator.allocate()
        self.k_pool[new], self.v_pool[new] = self.k_pool[block], self.v_pool[block]
        self.allocator.release(block)
        return new

    def fork(self, parent: int, child: int) -> None:
        """Let ``child`` share every block of ``parent`` (parallel sampling, beam search): no copy."""
        check(child not in self.block_tables, f"sequence {child} already exists")
        for block in self.block_tables[parent]:
            self.allocator.share(block)
        self.block_tables[child] = list(self.block_tables[parent])
        self.lengths[child] = self.lengths[parent]

    def free(self, seq: int) -> None:
        """Release a finished sequence's blocks."""
        for block in self.block_tables.pop(seq):
            self.allocator.release(block)
        del self.lengths[seq]

    def gather(self, seq: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(K, V)`` of ``seq``, each ``[heads, length, head_dim]``."""
        table, n = self.block_tables[seq], self.lengths[seq]
        return gather_kv(self.k_pool, table, n), gather_kv(self.v_pool, table, n)


def preallocated_slots(lengths: list[int], max_len: int) -> int:
    r"""KV slots reserved when every sequence gets a contiguous buffer for the maximum length.

    $$S_{\text{contiguous}} = N \cdot L_{\max}$$

    Args:
        lengths: final length (prompt + output) of each of the $N$ sequences.
        max_len: $L_{\max}$, the length each buffer is sized for.

    Returns:
        Reserved token slots.
    """
    check(max(lengths) <= max_len, f"a sequence of {max(lengths)} tokens exceeds max_len={max_len}")
    return len(lengths) * max_len


def paged_slots(lengths: list[int], block_size: int) -> int:
    r"""KV slots held when memory comes in blocks of $b$ tokens allocated on demand.

    $$S_{\text{paged}} = \sum_i b \left\lceil \frac{\ell_i}{b} \right\rceil,\qquad
    S_{\text{paged}} - \sum_i \ell_i \le N (b - 1)$$

    Args:
        lengths: final length $\ell_i$ of each sequence.
        block_size: $b$.

    Returns:
        Token slots in the allocated blocks.
    """
    return sum(blocks_needed(n, block_size) * block_size for n in lengths)


def static_batching(output_lens: list[int], batch_size: int) -> list[int]:
    r"""Iteration at which each request's result is returned under request-level (static) batching.

    Requests are taken in order, ``batch_size`` at a time; a batch runs until its longest request is done
    and only then returns its results (the problem Yu et al., 2022 describe): request $i$ in batch $j$ finishes at
    $\sum_{j' \le j} \max_{k \in j'} n_k$. Each iteration emits one token per request.

    Args:
        output_lens: tokens each request generates (its prefill makes the first one, as in Orca).
        batch_size: requests per batch.

    Returns:
        Finish iteration of each request.
    """
    check(batch_size >= 1, f"batch_size must be >= 1, got {batch_size}")
    finish, clock = [], 0
    for start in range(0, len(output_lens), batch_size):
        batch = output_lens[start : start + batch_size]
        clock += max(batch)
        finish += [clock] * len(batch)
    return finish


def continuous_batching(
    output_lens: list[int],
    max_batch: int,
    kv_footprints: list[int] | None = None,
    kv_slots: int | None = None,
) -> list[int]:
    r"""Finish iteration of each request under iteration-level scheduling (Orca; continuous batching).

    Before every iteration, waiting requests join in order while the batch has room (and, if a KV budget
    is given, while their KV footprint fits); after it, finished requests leave and free their memory.

    Args:
        output_lens: tokens each request generates.
        max_batch: most requests in one iteration.
        kv_footprints: KV slots each request holds while running (e.g. ``max_len`` when buffers are
            pre-allocated, its blocks when paged); ``None`` for no memory limit.
        kv_slots: the KV budget in token slots (with ``kv_footprints``).

    Returns:
        Finish iteration of each request.
    """
    check(min(output_lens) >= 1 and max_batch >= 1, "output_lens and max_batch must be >= 1")
    footprints = kv_footprints or [0] * len(output_lens)
    budget = kv_slots if kv_slots is not None else sum(footprints)
    check(max(footprints) <= budget, "a request's KV footprint exceeds the whole budget")
    waiting, running = deque(range(len(output_lens))), {}
    finish, clock, used = [0] * len(output_lens), 0, 0
    while waiting or running:
        while waiting and len(running) < max_batch and used + footprints[waiting[0]] <= budget:
            i = waiting.popleft()
            running[i], used = output_lens[i], used + footprints[i]
        clock += 1
        for i in list(running):
            running[i] -= 1
            if running[i] == 0:
                finish[i], used = clock, used - footprints[i]
                del running[i]
    return finish

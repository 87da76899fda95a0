r"""Distributed training on simulated ranks: what each kind of parallelism splits and what it communicates.

Ranks are simulated in one process (index ``r`` of a list or of a leading dimension), so every collective can be
checked against the single-device computation and its traffic counted.

* Tensor parallelism (Megatron-LM, Shoeybi et al., 2019; arXiv 1909.08053): :func:`tensor_parallel_mlp`.
* Ring collectives (NCCL's accounting, 2(N-1)/N): :func:`ring_reduce_scatter`, :func:`ring_all_gather`,
  :func:`ring_all_reduce`.
* Pipeline parallelism (GPipe, Huang et al., 2019; 1F1B, Narayanan et al., 2019 and 2021):
  :func:`pipeline_order`, :func:`simulate_pipeline`, :func:`pipeline_bubble_fraction`.
* Sequence parallelism (Korthikanti et al., 2023; arXiv 2205.05198): :func:`activation_bytes_per_layer`.
* Context parallelism (ring attention, Liu et al., 2024; arXiv 2310.01889): :func:`ring_attention`,
  :func:`context_parallel_positions`.
* Expert parallelism (GShard, Lepikhin et al., 2021): :func:`all_to_all`, :func:`expert_parallel_ffn`.
* Data parallelism with variable-length multimodal samples: :func:`balance_by_tokens`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check
from mllm_handbook.masks import causal_mask


def tensor_parallel_mlp(
    x: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    world_size: int,
    activation: Callable[[torch.Tensor], torch.Tensor] = F.gelu,
) -> torch.Tensor:
    r"""Megatron's MLP: $W_1$ split by columns, $W_2$ by rows; each rank returns a partial output.

    $$W_1 = [A_1, \dots, A_N], \quad W_2 = \begin{bmatrix} B_1 \\ \vdots \\ B_N \end{bmatrix}, \qquad
    Z = \sigma(X W_1) W_2 = \sum_{r=1}^{N} \sigma(X A_r) B_r$$

    Rank $r$ computes $\sigma(X A_r) B_r$ with no communication, because the element-wise $\sigma$ acts on its
    own columns; the sum over ranks is the one all-reduce of the forward pass (Shoeybi et al., 2019, §3).

    Args:
        x: ``[..., d]`` input, replicated on every rank.
        w1: ``[d, h]`` first weight (``x @ w1``), $h$ divisible by ``world_size``.
        w2: ``[h, d]`` second weight.
        world_size: $N$, tensor-parallel ranks.
        activation: element-wise non-linearity $\sigma$.

    Returns:
        ``[N, ..., d]`` partial outputs; their sum over dim 0 is the MLP output.
    """
    check(w1.shape[1] % world_size == 0, f"hidden size {w1.shape[1]} must be divisible by world_size")
    shards = zip(w1.chunk(world_size, dim=1), w2.chunk(world_size, dim=0), strict=True)
    return torch.stack([activation(x @ a) @ b for a, b in shards])


def _ring_pass(chunks: list[list[torch.Tensor]], shift: int, reduce: bool) -> torch.Tensor:
    """N-1 ring steps: rank r sends chunk (r - step + shift) % N to rank r + 1, which adds or stores it."""
    n = len(chunks)
    sent = torch.zeros(n, dtype=torch.long)
    for step in range(n - 1):
        index = [(r - step + shift) % n for r in range(n)]
        messages = [chunks[r][index[r]].clone() for r in range(n)]  # all ranks send at once
        for r, (c, msg) in enumerate(zip(index, messages, strict=True)):
            dst = (r + 1) % n
            chunks[dst][c] = chunks[dst][c] + msg if reduce else msg
            sent[r] += msg.numel()
    return sent


def ring_reduce_scatter(data: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    r"""Ring reduce-scatter: rank $r$ ends with chunk $r$ of the sum over ranks.

    Each rank's vector is cut into $N$ chunks; in each of $N-1$ steps every rank passes one partial sum to its
    neighbour, which adds its own chunk. Each rank sends $(N-1)\,M/N$ elements.

    Args:
        data: ``[N, M]``, row $r$ is rank $r$'s vector.

    Returns:
        ``(shards, sent)``: ``shards[r]`` is chunk $r$ of ``data.sum(0)`` (``torch.tensor_split`` sizes),
        ``sent`` is ``[N]`` elements sent by each rank.
    """
    n = data.shape[0]
    chunks = [list(row.tensor_split(n)) for row in data]
    sent = _ring_pass(chunks, shift=-1, reduce=True)
    return [chunks[r][r] for r in range(n)], sent


def ring_all_gather(shards: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Ring all-gather: rank $r$ starts with shard $r$; after $N-1$ steps every rank holds all shards.

    Args:
        shards: $N$ 1-D tensors, shard $r$ on rank $r$.

    Returns:
        ``(gathered, sent)``: ``[N, M]`` (every row is the concatenation) and ``[N]`` elements sent per rank.
    """
    n = len(shards)
    chunks = [[shards[c] if c == r else torch.zeros_like(shards[c]) for c in range(n)] for r in range(n)]
    sent = _ring_pass(chunks, shift=0, reduce=False)
    return torch.stack([torch.cat(row) for row in chunks]), sent


def ring_all_reduce(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Ring all-reduce = reduce-scatter + all-gather; every rank ends with the sum.

    Each rank sends $2(N-1)\,M/N$ elements (:func:`ring_all_reduce_volume`), almost independent of $N$, which
    is the bandwidth lower bound for all-reduce (NCCL tests, PERFORMANCE.md).

    Args:
        data: ``[N, M]``, row $r$ is rank $r$'s vector.

    Returns:
        ``(result, sent)``: ``[N, M]`` with every row equal to ``data.sum(0)``, and ``[N]`` elements sent.
    """
    shards, sent_rs = ring_reduce_scatter(data)
    result, sent_ag = ring_all_gather(shards)
    return result, sent_rs + sent_ag


def ring_all_reduce_volume(num_ranks: int, num_elements: float) -> float:
    r"""Elements each rank sends in a ring all-reduce of $M$ elements over $N$ ranks.

    $$V = 2\,\frac{N-1}{N}\,M$$

    Args:
        num_ranks: $N \ge 1$.
        num_elements: $M$.

    Returns:
        $V$.
    """
    check(num_ranks >= 1, f"num_ranks must be >= 1, got {num_ranks}")
    return 2 * (num_ranks - 1) / num_ranks * num_elements


def zero_comm_volume(num_params: float, num_ranks: int, stage: int) -> float:
    r"""Elements each data-parallel rank sends per step under ZeRO (Rajbhandari et al., 2020, §7).

    Stages 0-2 move $2\Psi$ per step (a gradient reduce-scatter and a parameter all-gather, which together
    are one all-reduce); stage 3 all-gathers the parameters again in the backward pass, $3\Psi$ (1.5x):

    $$V = k \, \frac{N-1}{N} \, \Psi, \qquad k = 2 \text{ (stages 0, 1, 2)}, \quad k = 3 \text{ (stage 3)}$$

    Args:
        num_params: $\Psi$.
        num_ranks: $N \ge 1$.
        stage: 0, 1, 2 or 3.

    Returns:
        $V$ in parameters (multiply by bytes per element).
    """
    check(stage in (0, 1, 2, 3), f"stage must be 0, 1, 2 or 3, got {stage}")
    return (3 if stage == 3 else 2) / 2 * ring_all_reduce_volume(num_ranks, num_params)


def pipeline_order(
    stage: int, num_stages: int, num_microbatches: int, schedule: str = "1f1b"
) -> list[tuple[str, int]]:
    r"""The order in which one pipeline stage runs forward (``"F"``) and backward (``"B"``) micro-batches.

    GPipe (Huang et al., 2019) runs all $m$ forwards, then all backwards. 1F1B (PipeDream, Narayanan et al.,
    2019; the synchronous PipeDream-Flush schedule of Narayanan et al., 2021) runs $p - s - 1$ warm-up
    forwards on stage $s$, then alternates one forward and one backward, then drains the backwards.

    Args:
        stage: $s \in [0, p)$.
        num_stages: $p$.
        num_microbatches: $m \ge 1$.
        schedule: ``"gpipe"`` or ``"1f1b"``.

    Returns:
        List of ``(op, micro-batch)``.
    """
    check(schedule in ("gpipe", "1f1b"), f"schedule must be 'gpipe' or '1f1b', got {schedule!r}")
    check(
        0 <= stage < num_stages and num_microbatches >= 1,
        "need 0 <= stage < num_stages, num_microbatches >= 1",
    )
    m = num_microbatches
    if schedule == "gpipe":
        return [("F", i) for i in range(m)] + [("B", i) for i in range(m)]
    warmup = min(num_stages - stage - 1, m)
    steady = [op for i in range(m - warmup) for op in (("F", warmup + i), ("B", i))]
    return [("F", i) for i in range(warmup)] + steady + [("B", i) for i in range(m - warmup, m)]


class PipelineRun(NamedTuple):
    """Result of :func:`simulate_pipeline`."""

    makespan: float  # time from the first forward to the last backward
    bubble_fraction: float  # idle share of stage-time
    peak_in_flight: list[int]  # per stage: most micro-batches whose activations are held at once
    timeline: list[list[tuple[float, str, int]]]  # per stage: (start time, op, micro-batch)


def simulate_pipeline(
    num_stages: int,
    num_microbatches: int,
    schedule: str = "1f1b",
    forward_time: float = 1.0,
    backward_time: float = 2.0,
) -> PipelineRun:
    r"""Run a pipeline schedule on $p$ stages and measure its bubble and activation memory.

    A forward of micro-batch $i$ on stage $s$ needs its forward on $s - 1$; a backward needs the backward
    on $s + 1$ (or, on the last stage, its own forward). Each op starts as soon as its stage is free and its
    input has arrived; communication time is ignored.

    Args:
        num_stages: $p$.
        num_microbatches: $m$.
        schedule: ``"gpipe"`` or ``"1f1b"`` (see :func:`pipeline_order`).
        forward_time: $t_f$ per micro-batch per stage.
        backward_time: $t_b$ (about $2 t_f$ in practice).

    Returns:
        A :class:`PipelineRun`.
    """
    p, m = num_stages, num_microbatches
    orders = [pipeline_order(s, p, m, schedule) for s in range(p)]
    finish: dict[tuple[str, int, int], float] = {}
    free, timeline = [0.0] * p, [[] for _ in range(p)]
    while sum(len(t) for t in timeline) < 2 * p * m:
        for s in range(p):
            if len(timeline[s]) == 2 * m:
                continue
            op, i = orders[s][len(timeline[s])]
            dep = ("F", s - 1, i) if op == "F" else ("B", s + 1, i) if s < p - 1 else ("F", s, i)
            if dep[1] >= 0 and dep not in finish:
                continue  # input not ready yet
            start = max(free[s], finish.get(dep, 0.0))
            free[s] = finish[(op, s, i)] = start + (forward_time if op == "F" else backward_time)
            timeline[s].append((start, op, i))
    makespan = max(free)
    bubble = 1 - m * (forward_time + backward_time) / makespan
    peak = [max(itertools.accumulate(1 if op == "F" else -1 for op, _ in order)) for order in orders]
    return PipelineRun(makespan, bubble, peak, timeline)


def pipeline_bubble_fraction(num_stages: int, num_microbatches: int) -> float:
    r"""Idle share of a GPipe or 1F1B pipeline with $p$ stages and $m$ micro-batches.

    $$\text{bubble} = \frac{p - 1}{m + p - 1}$$

    Each stage idles $(p-1)(t_f + t_b)$ while it works $m(t_f + t_b)$; Narayanan et al. (2021) quote the
    same bubble relative to the work, $(p-1)/m$. GPipe (Huang et al., 2019) calls it negligible for $m \ge 4p$.

    Args:
        num_stages: $p \ge 1$.
        num_microbatches: $m \ge 1$.

    Returns:
        The fraction in $[0, 1)$.
    """
    check(num_stages >= 1 and num_microbatches >= 1, "num_stages and num_microbatches must be >= 1")
    return (num_stages - 1) / (num_microbatches + num_stages - 1)


def activation_bytes_per_layer(
    seq_len: int,
    batch: int,
    hidden: int,
    num_heads: int,
    tensor_parallel: int = 1,
    sequence_parallel: bool = False,
) -> float:
    r"""Activation memory of one Transformer layer in 16-bit training (Korthikanti et al., 2023, Table 2).

    $$\text{no parallelism: } sbh\left(34 + \frac{5as}{h}\right), \qquad
    \text{tensor parallel: } sbh\left(10 + \frac{24}{t} + \frac{5as}{ht}\right), \qquad
    \text{tensor + sequence parallel: } \frac{sbh}{t}\left(34 + \frac{5as}{h}\right)$$

    Tensor parallelism splits everything inside the attention and MLP blocks; the $10\,sbh$ of LayerNorm
    inputs, the dropout masks after the two blocks and the inputs of each block's first linear layer stays
    replicated on every rank until sequence parallelism splits it along the sequence. The paper's
    assumptions: a GPT-style layer with a $4h$ GELU MLP, 16-bit activations, 1-byte dropout masks, small
    buffers (e.g. LayerNorm statistics) ignored.

    Args:
        seq_len: $s$.
        batch: $b$ (micro-batch size).
        hidden: $h$.
        num_heads: $a$.
        tensor_parallel: $t \ge 1$.
        sequence_parallel: split the replicated part too.

    Returns:
        Bytes per layer on each rank.
    """
    check(tensor_parallel >= 1, f"tensor_parallel must be >= 1, got {tensor_parallel}")
    s, b, h, a, t = seq_len, batch, hidden, num_heads, tensor_parallel
    scores = 5 * a * s / (h * t)  # softmax output (2), its dropout mask (1) and dropout output (2)
    replicated = 10 / t if sequence_parallel else 10
    return s * b * h * (replicated + 24 / t + scores)


def ring_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, world_size: int, is_causal: bool = False
) -> torch.Tensor:
    r"""Attention with the sequence split over ranks and K/V blocks passed around a ring (Liu et al., 2024).

    Rank $r$ keeps its query block $Q_r$; at step $j$ it holds the K/V block of rank $r - j$ and folds it in
    with a running log-sum-exp $\ell$, the online softmax of blockwise attention:

    $$S = \frac{Q_r K_j^\top}{\sqrt d}, \quad \ell' = \log\left(e^{\ell} + \textstyle\sum_k e^{S_{\cdot k}}\right),
    \quad O \leftarrow e^{\ell - \ell'} O + e^{S - \ell'} V_j$$

    With a causal mask, blocks from later ranks are skipped, so rank $r$ does $r + 1$ blocks of work.

    Args:
        q: ``[..., L, d]``; ``L`` divisible by ``world_size``.
        k: ``[..., L, d]``.
        v: ``[..., L, d_v]``.
        world_size: number of context-parallel ranks.
        is_causal: causal attention over the whole sequence.

    Returns:
        ``[..., L, d_v]``, equal to ``F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)``.
    """
    check(q.shape[-2] % world_size == 0, f"sequence length {q.shape[-2]} must be divisible by world_size")
    qs, ks, vs = q.chunk(world_size, -2), k.chunk(world_size, -2), v.chunk(world_size, -2)
    outputs = []
    for r in range(world_size):
        out = torch.zeros(*qs[r].shape[:-1], v.shape[-1], dtype=q.dtype)
        lse = torch.full((*qs[r].shape[:-1], 1), float("-inf"), dtype=q.dtype)
        for step in range(world_size):
            j = (r - step) % world_size  # the K/V block that has reached rank r
            if is_causal and j > r:
                continue
            scores = qs[r] @ ks[j].transpose(-2, -1) / math.sqrt(q.shape[-1])
            if is_causal and j == r:
                scores = scores.masked_fill(~causal_mask(qs[r].shape[-2]), float("-inf"))
            new_lse = torch.logaddexp(lse, scores.logsumexp(-1, keepdim=True))
            out = (lse - new_lse).exp() * out + (scores - new_lse).exp() @ vs[j]
            lse = new_lse
        outputs.append(out)
    return torch.cat(outputs, dim=-2)


def context_parallel_positions(seq_len: int, world_size: int, zigzag: bool = False) -> list[torch.Tensor]:
    r"""Token positions each context-parallel rank holds.

    Contiguous: rank $r$ gets block $r$ of $N$. Under a causal mask later blocks attend to more keys, so the
    last rank does about $2N - 1$ times the first rank's work. Zigzag (Llama 3's split): cut the sequence into
    $2N$ blocks and give rank $r$ blocks $r$ and $2N - 1 - r$, which evens the causal work exactly.

    Args:
        seq_len: $L$, divisible by $N$ (by $2N$ for zigzag).
        world_size: $N$.
        zigzag: use the $2N$-block split.

    Returns:
        ``N`` tensors of positions.
    """
    parts = 2 * world_size if zigzag else world_size
    check(seq_len % parts == 0, f"seq_len {seq_len} must be divisible by {parts}")
    blocks = torch.arange(seq_len).chunk(parts)
    if not zigzag:
        return list(blocks)
    return [torch.cat([blocks[r], blocks[parts - 1 - r]]) for r in range(world_size)]


def all_to_all(send: Sequence[Sequence[torch.Tensor]]) -> list[list[torch.Tensor]]:
    r"""All-to-all: ``send[i][j]`` is what rank $i$ sends to rank $j$; rank $j$ receives ``send[i][j]`` from
    every $i$, so ``recv[j][i] = send[i][j]`` (a transpose of the send matrix).

    Args:
        send: $N \times N$ nested sequence of tensors.

    Returns:
        ``recv``, $N \times N$.
    """
    n = len(send)
    check(all(len(row) == n for row in send), "send must be an N x N nested sequence")
    return [[send[i][j] for i in range(n)] for j in range(n)]


def expert_parallel_ffn(
    tokens: Sequence[torch.Tensor],
    expert_ids: Sequence[torch.Tensor],
    experts: Sequence[Callable[[torch.Tensor], torch.Tensor]],
) -> tuple[list[torch.Tensor], int]:
    r"""Expert parallelism with top-1 routing: expert $e$ lives on rank $e$; two all-to-alls move the tokens.

    Dispatch sends each token to its expert's rank, the expert runs on what it received, and combine sends
    the results back (GShard, Lepikhin et al., 2021). Under uniform routing a fraction $(N-1)/N$ of the tokens
    leaves its rank, once in each direction.

    Args:
        tokens: per rank, ``[T_r, d]``.
        expert_ids: per rank, ``[T_r]`` expert index in ``[0, N)`` of each token.
        experts: $N$ callables, expert $e$ on rank $e$.

    Returns:
        ``(outputs, moved)``: per rank ``[T_r, d]`` expert outputs in the original token order, and the number
        of token vectors that crossed ranks in the dispatch.
    """
    n = len(experts)
    check(len(tokens) == len(expert_ids) == n, "need one token tensor and one id tensor per rank")
    send = [[x[ids == e] for e in range(n)] for x, ids in zip(tokens, expert_ids, strict=True)]
    received = all_to_all(send)  # received[e][i]: tokens rank i sends to expert e
    processed = [[experts[e](block) for block in received[e]] for e in range(n)]
    back = all_to_all(processed)  # back[i][e]: rank i's tokens after expert e
    outputs = []
    for x, ids, blocks in zip(tokens, expert_ids, back, strict=True):
        out = torch.empty_like(x)
        for e in range(n):
            out[ids == e] = blocks[e]
        outputs.append(out)
    moved = sum(send[i][j].shape[0] for i in range(n) for j in range(n) if i != j)
    return outputs, moved


def balance_by_tokens(token_counts: Sequence[int], num_ranks: int) -> list[list[int]]:
    r"""Sort samples by token count and give each, largest first, to the least-loaded rank.

    This is Graham's (1969) longest-processing-time rule: with $N$ ranks its largest load is at most
    $\left(\frac{4}{3} - \frac{1}{3N}\right)$ times the best possible. In MLLM training the counts vary
    because samples carry 0, 1 or many images at different resolutions.

    Args:
        token_counts: per sample, its tokens (text plus visual), or any cost estimate.
        num_ranks: $N \ge 1$ data-parallel ranks.

    Returns:
        ``N`` lists of sample indices.
    """
    check(num_ranks >= 1, f"num_ranks must be >= 1, got {num_ranks}")
    loads, bins = [0] * num_ranks, [[] for _ in range(num_ranks)]
    for i in sorted(range(len(token_counts)), key=lambda i: -token_counts[i]):
        r = min(range(num_ranks), key=loads.__getitem__)
        bins[r].append(i)
        loads[r] += token_counts[i]
    return bins

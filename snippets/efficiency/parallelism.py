"""Tensor, pipeline, sequence, context, expert and data parallelism on ranks."""

import torch
import torch.nn.functional as F
from matplotlib.patches import Patch

from mllm_handbook.figures import new_figure, show
from mllm_handbook.masks import causal_mask
from mllm_handbook.parallel import (
    activation_bytes_per_layer,
    balance_by_tokens,
    context_parallel_positions,
    expert_parallel_ffn,
    pipeline_bubble_fraction,
    ring_all_reduce,
    ring_all_reduce_volume,
    ring_attention,
    simulate_pipeline,
    tensor_parallel_mlp,
    zero_comm_volume,
)

torch.manual_seed(0)

# 1. Megatron MLP: W1 split by columns, W2 by rows, one all-reduce.
x = torch.randn(2, 5, 8, dtype=torch.float64)
w1 = torch.randn(8, 32, dtype=torch.float64)
w2 = torch.randn(32, 8, dtype=torch.float64)
partials = tensor_parallel_mlp(x, w1, w2, world_size=4)  # [4, 2, 5, 8]
reduced, _ = ring_all_reduce(partials.flatten(1))  # the one all-reduce
full = F.gelu(x @ w1) @ w2
err = (reduced[0].view_as(full) - full).abs().max().item()
print(f"TP=4 MLP after one all-reduce vs full MLP: max error {err:.1e}")
assert torch.allclose(reduced.view_as(partials), full.expand_as(partials))
rows = F.gelu(x[..., :4] @ w1[:4]) + F.gelu(x[..., 4:] @ w1[4:])
assert not torch.allclose(rows, F.gelu(x @ w1))  # W1 by rows: sum before GELU

# 2. Ring all-reduce: each rank sends 2(N-1)/N of the message, almost flat.
M = 1680
print(" N | sent per rank / M | 2(N-1)/N")
for n in (2, 4, 8, 16):
    data = torch.randn(n, M, dtype=torch.float64)
    result, sent = ring_all_reduce(data)
    assert torch.allclose(result, data.sum(0).expand(n, M))
    assert (sent == ring_all_reduce_volume(n, M)).all()
    print(f"{n:>2} | {sent[0].item() / M:>17.4f} | {2 * (n - 1) / n:.4f}")
gb = {s: zero_comm_volume(7e9, 64, s) * 2 / 1e9 for s in (0, 3)}  # bf16
print(f"7B on 64 DP ranks, per step: {gb[0]:.1f} GB (DP, ZeRO-1/2), ", end="")
print(f"{gb[3]:.1f} GB (ZeRO-3)")
assert (round(gb[0], 1), round(gb[3], 1)) == (27.6, 41.3)

# 3. Pipeline bubble: (p-1)/(m+p-1) for GPipe and 1F1B; 1F1B holds p.
p, m = 4, 8
runs = {s: simulate_pipeline(p, m, s) for s in ("gpipe", "1f1b")}
for name, run in runs.items():
    print(
        f"{name:>5}: p={p}, m={m}: bubble {run.bubble_fraction:.3f}, "
        f"micro-batches held per stage {run.peak_in_flight}"
    )
    assert abs(run.bubble_fraction - pipeline_bubble_fraction(p, m)) < 1e-12
    assert run.makespan == (m + p - 1) * 3  # 33 time units
assert (
    runs["gpipe"].peak_in_flight[0] == m and runs["1f1b"].peak_in_flight[0] == p
)
print(
    "bubble at p=4: "
    + ", ".join(
        f"m={mb}: {pipeline_bubble_fraction(4, mb):.1%}"
        for mb in (1, 4, 16, 64)
    )
)
f = pipeline_bubble_fraction(p, m)
assert abs(f / (1 - f) - (p - 1) / m) < 1e-12  # Megatron's form: bubble/work
assert [round(pipeline_bubble_fraction(4, mb), 3) for mb in (16, 64)] == [
    0.158,
    0.045,
]

# One axes, one bar collection per stage: the figure is cheap to render.
fig, ax = new_figure(6.4, 3.0)
rows = {}
for k, (name, run) in enumerate(runs.items()):
    for s, events in enumerate(run.timeline):
        y = k * (p + 1) + s  # an empty row between the two schedules
        ax.broken_barh(
            [(t, 1.0 if op == "F" else 2.0) for t, op, _ in events],
            (y - 0.4, 0.8),
            facecolors=["C0" if op == "F" else "C1" for _, op, _ in events],
            edgecolor="white",
        )
        rows[y] = f"{'GPipe' if name == 'gpipe' else '1F1B'} stage {s}"
ax.set_yticks(list(rows), list(rows.values()))
ax.invert_yaxis()
fig.legend(
    handles=[
        Patch(color=c, label=lab)
        for c, lab in (("C0", "forward"), ("C1", "backward"))
    ],
    frameon=False,
    fontsize=8,
    ncols=2,
    loc="outside upper right",
)
ax.set_xlabel("time (forward = 1, backward = 2 per micro-batch)")
show(
    fig,
    alt="GPipe and 1F1B timelines on 4 stages with 8 micro-batches: "
    "both take 33 time units with the same idle bubble, but 1F1B starts "
    "backward passes early and so holds fewer micro-batches.",
)

# 4. Sequence parallelism: activation bytes of one GPT-3-sized layer, t = 8.
shape = dict(seq_len=2048, batch=1, hidden=12288, num_heads=96)
none = activation_bytes_per_layer(**shape)
tp = activation_bytes_per_layer(**shape, tensor_parallel=8)
tp_sp = activation_bytes_per_layer(
    **shape, tensor_parallel=8, sequence_parallel=True
)
print(
    f"activations per layer: {none / 2**30:.2f} GiB alone, "
    f"{tp / 2**30:.2f} GiB with TP=8, {tp_sp / 2**30:.2f} GiB with TP+SP"
)
assert abs(tp_sp - none / 8) < 1
assert [round(b / 2**30, 2) for b in (none, tp, tp_sp)] == [2.67, 0.54, 0.33]

# 5. Context parallelism: ring attention equals full attention.
q, k, v = torch.randn(3, 2, 4, 32, 16, dtype=torch.float64).unbind(0)
for causal in (False, True):
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert torch.allclose(ring_attention(q, k, v, 4, causal), ref)
mask = causal_mask(64)
works = []
for zigzag in (False, True):
    split = context_parallel_positions(64, 4, zigzag)
    work = [int(mask[pos].sum()) for pos in split]
    print(
        f"causal work per CP rank ({'zigzag' if zigzag else 'contiguous'}):"
        f" {work}"
    )
    works.append(work)
assert works == [[136, 392, 648, 904], [520] * 4]  # zigzag: equal work

# 6. Expert parallelism: two all-to-alls, same result as local routing.
n, d = 4, 8
weights = torch.randn(n, d, d)
experts = [lambda t, w=w: F.gelu(t @ w) for w in weights]
tokens = [torch.randn(16, d) for _ in range(n)]
ids = [torch.arange(16) % n for _ in range(n)]  # perfectly balanced router
outputs, moved = expert_parallel_ffn(tokens, ids, experts)
for t, e, out in zip(tokens, ids, outputs, strict=True):
    local = torch.stack([experts[j](t[i]) for i, j in enumerate(e.tolist())])
    assert torch.allclose(out, local, atol=1e-6)
print(f"EP=4: {moved / (16 * n):.0%} of tokens leave their rank each way")
assert moved / (16 * n) == (n - 1) / n

# 7. Llama 3 405B layouts (report, Table 4): DP = GPUs / (TP x CP x PP).
# Table 4 prints DP 4 for the 128K row, which multiplies to 8192 GPUs.
dp, covered = [], []
for gpus, tp_, cp, pp, printed in [
    (8192, 8, 1, 16, 64),
    (16384, 8, 1, 16, 128),
    (16384, 8, 16, 16, 4),
]:
    dp.append(gpus // (tp_ * cp * pp))
    covered.append(tp_ * cp * pp * printed)
    print(
        f"{gpus} GPUs: TP {tp_} x CP {cp} x PP {pp} x DP {dp[-1]}"
        f" (Table 4: DP {printed}, {covered[-1]} GPUs)"
    )
assert dp == [64, 128, 8] and covered == [8192, 16384, 8192]

# 8. Data parallelism with images: visual tokens make loads uneven.
ranks, samples = 8, 64
text = torch.randint(20, 600, (samples,))
images = torch.multinomial(torch.tensor([0.3, 0.5, 0.2]), samples, True)
visual = torch.tensor([0, 576, 2304])[images]  # none, 1 image, 4 tiles
counts = (text + visual).tolist()
naive = [list(range(r, samples, ranks)) for r in range(ranks)]
balanced = balance_by_tokens(counts, ranks)
ratios = []
for name, split in (("interleaved", naive), ("sort-and-pack", balanced)):
    loads = torch.tensor([sum(counts[i] for i in b) for b in split]).float()
    ratio = (loads.max() / loads.mean()).item()
    print(
        f"{name:>13}: tokens per rank {loads.int().tolist()}, "
        f"max/mean {ratio:.3f}"
    )
    ratios.append(ratio)
assert [round(r, 3) for r in ratios] == [1.907, 1.002]  # step time ~ the max

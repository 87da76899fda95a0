"""parallel: simulated collectives and parallel layers against single-device PyTorch and the papers' formulas."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from mllm_handbook.masks import causal_mask
from mllm_handbook.parallel import (
    activation_bytes_per_layer,
    all_to_all,
    balance_by_tokens,
    context_parallel_positions,
    expert_parallel_ffn,
    pipeline_bubble_fraction,
    pipeline_order,
    ring_all_gather,
    ring_all_reduce,
    ring_all_reduce_volume,
    ring_attention,
    ring_reduce_scatter,
    simulate_pipeline,
    tensor_parallel_mlp,
    zero_comm_volume,
)

G = torch.Generator().manual_seed(0)


@pytest.mark.parametrize("world_size", [1, 2, 3, 6])
def test_tensor_parallel_mlp_sums_to_full_mlp(world_size):
    x = torch.randn(2, 5, 7, generator=G) + 0.3
    w1, w2 = torch.randn(7, 18, generator=G), torch.randn(18, 7, generator=G)
    partials = tensor_parallel_mlp(x, w1, w2, world_size, activation=F.silu)
    assert partials.shape == (world_size, 2, 5, 7)
    torch.testing.assert_close(partials.sum(0), F.silu(x @ w1) @ w2)
    torch.testing.assert_close(tensor_parallel_mlp(x, w1, w2, world_size).sum(0), F.gelu(x @ w1) @ w2)


def test_splitting_w1_by_rows_would_need_communication_before_gelu():
    x, w1 = torch.randn(4, 6, generator=G), torch.randn(6, 8, generator=G)
    rows = F.gelu(x[:, :3] @ w1[:3]) + F.gelu(x[:, 3:] @ w1[3:])
    assert not torch.allclose(rows, F.gelu(x @ w1), atol=1e-3)


def test_tensor_parallel_mlp_rejects_indivisible_hidden():
    with pytest.raises(ValueError, match="divisible by world_size"):
        tensor_parallel_mlp(torch.ones(1, 4), torch.ones(4, 10), torch.ones(10, 4), 4)


@pytest.mark.parametrize(("n", "m"), [(1, 5), (2, 6), (3, 7), (4, 12), (5, 13)])
def test_ring_collectives_match_sums_and_count_traffic(n, m):
    data = torch.randn(n, m, generator=G, dtype=torch.float64)
    shards, sent_rs = ring_reduce_scatter(data)
    for r, expected in enumerate(data.sum(0).tensor_split(n)):
        torch.testing.assert_close(shards[r], expected)
    gathered, sent_ag = ring_all_gather(shards)
    torch.testing.assert_close(gathered, data.sum(0).expand(n, m))
    result, sent = ring_all_reduce(data)
    torch.testing.assert_close(result, data.sum(0).expand(n, m))
    assert sent.equal(sent_rs + sent_ag) and sent_rs.sum() == sent_ag.sum() == (n - 1) * m
    assert sent.sum().item() == 2 * (n - 1) * m  # every chunk travels 2(N-1) hops
    if m % n == 0:
        assert (sent == ring_all_reduce_volume(n, m)).all()


def test_ring_all_gather_from_distinct_shards():
    shards = [torch.arange(3.0), torch.arange(3.0, 5.0), torch.arange(5.0, 9.0)]
    gathered, sent = ring_all_gather(shards)
    assert (gathered == torch.arange(9.0)).all() and sent.sum() == 2 * 9


def test_ring_volume_formula_and_zero():
    assert ring_all_reduce_volume(1, 100) == 0
    assert ring_all_reduce_volume(8, 800) == 1400
    with pytest.raises(ValueError, match="num_ranks"):
        ring_all_reduce_volume(0, 10)
    # ZeRO paper, section 7: stages 1 and 2 cost what plain DP costs (2 Psi), stage 3 is 1.5x (3 Psi).
    assert zero_comm_volume(1e9, 64, 0) == zero_comm_volume(1e9, 64, 2) == ring_all_reduce_volume(64, 1e9)
    assert zero_comm_volume(1e9, 64, 3) == pytest.approx(1.5 * zero_comm_volume(1e9, 64, 1))
    with pytest.raises(ValueError, match="stage"):
        zero_comm_volume(1e9, 64, 4)


def test_pipeline_orders():
    assert pipeline_order(0, 2, 2, "gpipe") == [("F", 0), ("F", 1), ("B", 0), ("B", 1)]
    assert pipeline_order(0, 3, 4) == [
        ("F", 0),
        ("F", 1),
        ("F", 2),
        ("B", 0),
        ("F", 3),
        ("B", 1),
        ("B", 2),
        ("B", 3),
    ]
    assert pipeline_order(2, 3, 2) == [("F", 0), ("B", 0), ("F", 1), ("B", 1)]  # last stage: no warm-up
    assert pipeline_order(0, 4, 2) == pipeline_order(0, 4, 2, "1f1b")  # default schedule
    assert pipeline_order(0, 8, 2) == [("F", 0), ("F", 1), ("B", 0), ("B", 1)]  # warm-up capped at m
    with pytest.raises(ValueError, match="schedule"):
        pipeline_order(0, 2, 2, "zb")
    with pytest.raises(ValueError, match="stage"):
        pipeline_order(2, 2, 2)


@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
@pytest.mark.parametrize(("p", "m"), [(1, 3), (2, 1), (3, 5), (4, 8), (5, 3)])
@pytest.mark.parametrize(("tf", "tb"), [(1.0, 1.0), (1.0, 2.0)])
def test_pipeline_bubble_matches_closed_form(schedule, p, m, tf, tb):
    run = simulate_pipeline(p, m, schedule, tf, tb)
    assert run.makespan == pytest.approx((m + p - 1) * (tf + tb))
    assert run.bubble_fraction == pytest.approx(pipeline_bubble_fraction(p, m))
    # every op appears once per stage, and no stage runs two ops at once
    for s, events in enumerate(run.timeline):
        assert sorted((op, i) for _, op, i in events) == sorted(pipeline_order(s, p, m, schedule))
        starts = [t for t, _, _ in events]
        assert starts == sorted(starts)


def test_pipeline_dependencies_hold():
    run = simulate_pipeline(3, 4, "1f1b", 1.0, 2.0)
    start = {(op, s, i): t for s, ev in enumerate(run.timeline) for t, op, i in ev}
    for s, i in itertools.product(range(3), range(4)):
        if s > 0:
            assert start[("F", s, i)] >= start[("F", s - 1, i)] + 1.0
        if s < 2:
            assert start[("B", s, i)] >= start[("B", s + 1, i)] + 2.0


def test_1f1b_holds_at_most_p_microbatches():
    gpipe, one_f = simulate_pipeline(4, 8, "gpipe"), simulate_pipeline(4, 8, "1f1b")
    assert gpipe.peak_in_flight == [8, 8, 8, 8]
    assert one_f.peak_in_flight == [4, 3, 2, 1]
    assert simulate_pipeline(4, 2).peak_in_flight == [2, 2, 2, 1]
    defaults = simulate_pipeline(3, 5)
    assert defaults == simulate_pipeline(3, 5, "1f1b", 1.0, 2.0)


def test_bubble_fraction_values_and_errors():
    assert pipeline_bubble_fraction(1, 5) == 0
    assert pipeline_bubble_fraction(4, 8) == pytest.approx(3 / 11)
    f = pipeline_bubble_fraction(8, 32)
    assert f / (1 - f) == pytest.approx(7 / 32)  # Narayanan et al. (2021): bubble / work = (p-1)/m
    with pytest.raises(ValueError, match=">= 1"):
        pipeline_bubble_fraction(4, 0)


def test_activation_memory_table_2():
    s, b, h, a = 2048, 2, 1024, 16
    full = s * b * h * (34 + 5 * a * s / h)
    assert activation_bytes_per_layer(s, b, h, a) == full
    assert activation_bytes_per_layer(s, b, h, a, 1, True) == full
    assert activation_bytes_per_layer(s, b, h, a, 8) == s * b * h * (10 + 24 / 8 + 5 * a * s / (h * 8))
    assert activation_bytes_per_layer(s, b, h, a, 8, True) == pytest.approx(full / 8)
    assert activation_bytes_per_layer(s, b, h, a, tensor_parallel=1) == activation_bytes_per_layer(s, b, h, a)
    with pytest.raises(ValueError, match="tensor_parallel"):
        activation_bytes_per_layer(s, b, h, a, 0)


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
def test_ring_attention_matches_sdpa(is_causal, world_size):
    q = torch.randn(2, 3, 30, 4, generator=G, dtype=torch.float64)
    k = torch.randn(2, 3, 30, 4, generator=G, dtype=torch.float64) + 0.5
    v = torch.randn(2, 3, 30, 6, generator=G, dtype=torch.float64)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    torch.testing.assert_close(ring_attention(q, k, v, world_size, is_causal), expected)


def test_ring_attention_default_and_errors():
    q = torch.randn(1, 6, 4, generator=G)
    torch.testing.assert_close(ring_attention(q, q, q, 2), ring_attention(q, q, q, 2, is_causal=False))
    with pytest.raises(ValueError, match="divisible by world_size"):
        ring_attention(q, q, q, 4)


def test_context_parallel_positions_and_causal_work():
    mask = causal_mask(24)
    contiguous = context_parallel_positions(24, 3)
    zigzag = context_parallel_positions(24, 3, zigzag=True)
    assert all(a.equal(b) for a, b in zip(contiguous, context_parallel_positions(24, 3, False), strict=True))
    for split in (contiguous, zigzag):
        assert torch.cat(split).sort().values.equal(torch.arange(24))  # a partition of the positions
    work = [int(mask[p].sum()) for p in contiguous]
    assert work == sorted(work) and work[0] < work[-1]
    assert len({int(mask[p].sum()) for p in zigzag}) == 1  # equal causal work
    assert zigzag[0].tolist() == [0, 1, 2, 3, 20, 21, 22, 23]
    with pytest.raises(ValueError, match="divisible by 6"):
        context_parallel_positions(21, 3, zigzag=True)


def test_all_to_all_transposes():
    send = [[torch.tensor([10 * i + j]) for j in range(3)] for i in range(3)]
    recv = all_to_all(send)
    assert all(recv[j][i].item() == 10 * i + j for i in range(3) for j in range(3))
    with pytest.raises(ValueError, match="N x N"):
        all_to_all([[torch.zeros(1)], [torch.zeros(1)]])


def test_expert_parallel_ffn_matches_local_routing():
    n, d = 3, 4
    weights = torch.randn(n, d, d, generator=G)
    experts = [lambda x, w=w: torch.tanh(x @ w) for w in weights]
    tokens = [torch.randn(t, d, generator=G) for t in (5, 2, 7)]
    ids = [torch.randint(0, n, (len(x),), generator=G) for x in tokens]
    ids[1] = torch.tensor([1, 1])  # a rank whose tokens all stay home
    outputs, moved = expert_parallel_ffn(tokens, ids, experts)
    for x, e, out in zip(tokens, ids, outputs, strict=True):
        expected = torch.stack([experts[int(k)](row[None])[0] for row, k in zip(x, e, strict=True)])
        torch.testing.assert_close(out, expected)
    assert moved == sum(int((e != r).sum()) for r, e in enumerate(ids))
    with pytest.raises(ValueError, match="one token tensor"):
        expert_parallel_ffn(tokens[:2], ids[:2], experts)


def test_uniform_routing_moves_n_minus_one_over_n():
    n = 4
    tokens = [torch.zeros(8, 2) for _ in range(n)]
    ids = [torch.arange(8) % n for _ in range(n)]
    _, moved = expert_parallel_ffn(tokens, ids, [lambda x: x] * n)
    assert moved / (8 * n) == (n - 1) / n


def brute_force_best_max_load(counts, n):
    return min(
        max(sum(c for c, r in zip(counts, assign, strict=True) if r == k) for k in range(n))
        for assign in itertools.product(range(n), repeat=len(counts))
    )


@pytest.mark.parametrize("seed", range(6))
def test_balance_by_tokens_is_a_partition_within_graham_bound(seed):
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 3000, (7,), generator=g).tolist()
    n = 3
    bins = balance_by_tokens(counts, n)
    assert sorted(i for b in bins for i in b) == list(range(len(counts)))
    loads = [sum(counts[i] for i in b) for b in bins]
    assert max(loads) <= (4 / 3 - 1 / (3 * n)) * brute_force_best_max_load(counts, n)
    assert max(loads) <= sum(counts) / n + max(counts)  # list-scheduling bound


def test_balance_by_tokens_hand_example_and_edges():
    counts = [576, 40, 2304, 60, 576, 30, 1200, 50]
    bins = balance_by_tokens(counts, 2)
    assert bins == [[2, 3, 1], [6, 0, 4, 7, 5]]  # largest first, ties by index; loads 2404 and 2432
    assert balance_by_tokens(counts, 1) == [[2, 6, 0, 4, 3, 7, 1, 5]]
    assert balance_by_tokens([], 2) == [[], []]
    with pytest.raises(ValueError, match="num_ranks"):
        balance_by_tokens(counts, 0)

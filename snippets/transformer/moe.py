"""A top-k MoE layer, its balancing loss, capacity, and real models' sizes."""

import math

import torch

from mllm_handbook.ffn import SwiGLUFFN
from mllm_handbook.moe import (
    MoELayer,
    bias_balanced_routing,
    capacity_mask,
    expert_capacity,
    load_balancing_loss,
    moe_ffn_params,
    top_k_routing,
    update_routing_bias,
)

torch.manual_seed(0)
d, d_expert, tokens = 16, 32, 12
x = torch.randn(tokens, d)

# 1. One expert with top-1 is exactly the dense SwiGLU FFN.
single = MoELayer(d, d_expert, num_experts=1, top_k=1)
dense = SwiGLUFFN(d, d_expert)
dense.load_state_dict(single.experts[0].state_dict())
assert torch.allclose(single(x)[0], dense(x), atol=1e-6)
print("MoE with 1 expert, top-1 == dense SwiGLU FFN: OK")

# 2. The auxiliary loss N * sum_i f_i P_i: k when balanced, -> N collapsed.
N = 8


def balanced_logits(k: int) -> torch.Tensor:
    """Token t prefers experts t, t+1, ..., t+k-1 (mod N) equally."""
    logits = torch.zeros(4 * N, N)
    for t in range(4 * N):
        logits[t, [(t + j) % N for j in range(k)]] = 5.0
    return logits


collapsed = torch.zeros(4 * N, N)
collapsed[:, 0] = 20.0  # every token sends (almost) all probability to 0
cases = {
    "balanced": [balanced_logits(1), balanced_logits(2)],
    "collapsed": [collapsed, collapsed],
}
print(" routing   | aux loss k=1 | aux loss k=2")
for name, (top1, top2) in cases.items():
    k1 = load_balancing_loss(top1, top_k=1).item()
    k2 = load_balancing_loss(top2, top_k=2).item()
    print(f" {name:<9} | {k1:>12.3f} | {k2:>12.3f}")
    want = (1.0, 2.0) if name == "balanced" else (N, N)
    assert math.isclose(k1, want[0], rel_tol=1e-5)
    assert math.isclose(k2, want[1], rel_tol=1e-5)

# The gradient flows through P only: dL/dz_tj = N/T p_tj (f_j - sum_i f_i p_ti).
z = torch.randn(4 * N, N, requires_grad=True)
load_balancing_loss(z, top_k=2).backward()
p = z.detach().softmax(-1)
f = torch.bincount(p.topk(2, -1).indices.flatten(), minlength=N) / (4 * N)
expected = N / (4 * N) * p * (f - (p * f).sum(-1, keepdim=True))
assert torch.allclose(z.grad, expected, atol=1e-6)
print("aux-loss gradient == N/T p (f - <f, p>), f held constant: OK")

# 3. Capacity: C = ceil(cf * k * T / N) slots per expert; the rest drop.
moe = MoELayer(d, d_expert, num_experts=4, top_k=1)
with torch.no_grad():
    moe.router.weight[0] += 1.0 * x.mean(0)  # skew: expert 0 is popular
experts = top_k_routing(moe.router(x), 1)[1]
print(
    "tokens per expert:",
    torch.bincount(experts.flatten(), minlength=4).tolist(),
)
print(" capacity factor | slots C | dropped tokens")
dropped = []
for cf in (1.0, 1.5, 2.0, 4.0):
    C = expert_capacity(tokens, 4, cf, top_k=1)
    dropped.append(int((~capacity_mask(experts, 4, C)).sum()))
    print(f" {cf:>15.1f} | {C:>7} | {dropped[-1]:>14}")
assert dropped == sorted(dropped, reverse=True) and dropped[-1] == 0
y, _ = moe(x, capacity=expert_capacity(tokens, 4, 1.0))
keep = capacity_mask(experts, 4, expert_capacity(tokens, 4, 1.0))[:, 0]
assert (y[~keep] == 0).all() and (y[keep] != 0).any()  # dropped: zero output

# 4. A stylised toy, not a real MoE: only a Switch-style top-1 router
# (gate = p) is trained; the experts are fixed random maps and the target is
# expert 0's output, so collapsing onto expert 0 is optimal by construction.
# It shows what the auxiliary loss does to usage, not why real routers
# collapse (there, favoured experts also train faster).
T, E = 256, 8
mu = torch.nn.functional.normalize(torch.randn(d), dim=0)
xs = torch.randn(T, d) + 2.0 * mu  # skewed: all tokens share a direction
maps = torch.randn(E, d, d) / math.sqrt(d)  # expert i: x -> x @ maps[i]
outs = torch.einsum("td,edh->teh", xs, maps)  # every expert's output
target = xs @ maps[0]
w0 = 0.1 * torch.randn(E, d)


def usage_entropy(experts: torch.Tensor) -> float:
    """Entropy (nats) of the fraction of tokens each expert receives."""
    share = torch.bincount(experts.flatten(), minlength=E) / experts.numel()
    return torch.special.entr(share).sum().item()  # -sum share * log share


def train_router(alpha: float, steps: int = 30) -> tuple[float, float]:
    w = w0.clone().requires_grad_(True)
    for _ in range(steps):
        gate, expert = top_k_routing(xs @ w.T, 1, renormalize=False)
        y = gate * outs[torch.arange(T), expert[:, 0]]
        task = (y - target).pow(2).mean()
        loss = task + alpha * load_balancing_loss(xs @ w.T, 1)
        (grad,) = torch.autograd.grad(loss, w)
        w = (w - 0.5 * grad).detach().requires_grad_(True)
    gate, expert = top_k_routing(xs @ w.T, 1, renormalize=False)
    task = (gate * outs[torch.arange(T), expert[:, 0]] - target).pow(2).mean()
    return usage_entropy(expert), task.item()


start = usage_entropy(top_k_routing(xs @ w0.T, 1)[1])
print(f"usage entropy at init {start:.2f} nats (max log 8 = {math.log(E):.2f})")
print(" alpha | usage entropy | task loss")
runs = {alpha: train_router(alpha) for alpha in (0.0, 0.3, 1.0)}
for alpha, (entropy, task) in runs.items():
    print(f" {alpha:>5} | {entropy:>13.2f} | {task:>9.3f}")
assert runs[0.0][0] < 0.5 * start  # without the loss the router collapses
assert runs[0.0][0] < runs[0.3][0] < runs[1.0][0]
assert runs[1.0][0] > 0.9 * math.log(E)  # near the maximum with the loss
assert runs[0.0][1] < runs[1.0][1]  # the price here: a higher task loss

# DeepSeek-V3's alternative: a bias, updated by load, only for selection
# (gamma = 0.01 here for speed; the report uses 0.001).
skew = torch.zeros(E).index_fill_(0, torch.tensor([0]), 3.0)
scores = torch.sigmoid(xs @ w0.T + skew)  # expert 0 scores high for all
bias = torch.zeros(E)
before = usage_entropy(bias_balanced_routing(scores, bias, 1)[1])
for _ in range(100):
    bias = update_routing_bias(
        bias, bias_balanced_routing(scores, bias, 1)[1], E, 0.01
    )
after = usage_entropy(bias_balanced_routing(scores, bias, 1)[1])
print(f"bias balancing, no gradient: usage entropy {before:.2f} -> {after:.2f}")
assert before < 0.1 and after > 0.9 * math.log(E)  # collapsed -> near uniform

# 5. Shared + fine-grained experts (DeepSeekMoE): more expert combinations.
print(
    "expert combinations: C(16,2) =",
    math.comb(16, 2),
    "| C(64,8) =",
    f"{math.comb(64, 8):,}",
)
assert (math.comb(16, 2), math.comb(64, 8)) == (120, 4_426_165_368)
shared = MoELayer(d, d_expert, num_experts=4, top_k=1, num_shared=1)
with torch.no_grad():
    shared_out = shared.shared[0](x)
    assert torch.allclose(shared(x, capacity=0)[0], shared_out, atol=1e-6)
print("with every routed slot dropped, the shared expert still runs: OK")


# 6. Total and active parameters, with the numbers of the released configs.
def billions(cfg: dict, attention: int) -> tuple[float, float, float]:
    """(total, active, input embedding) in billions; `attention` per layer."""
    h, layers, dense = cfg["hidden"], cfg["layers"], cfg.get("dense_layers", 0)
    moe_total, moe_active = moe_ffn_params(
        h, cfg["expert_ffn"], cfg["experts"], cfg["top_k"], cfg.get("shared", 0)
    )
    common = layers * (attention + 2 * h) + 2 * cfg["vocab"] * h + h  # + norms,
    common += dense * 3 * h * cfg.get("dense_ffn", 0)  # embedding, LM head
    moe_layers = layers - dense
    total = common + moe_layers * moe_total
    active = common + moe_layers * moe_active
    return total / 1e9, active / 1e9, cfg["vocab"] * h / 1e9


# Mixtral-8x7B: GQA (32 query heads, 8 KV heads of width 128), 8 experts, top-2.
mixtral = dict(hidden=4096, layers=32, vocab=32000, expert_ffn=14336)
mixtral.update(experts=8, top_k=2)
gqa = 2 * 4096 * (32 * 128) + 2 * 4096 * (8 * 128)  # W_Q, W_O; W_K, W_V
# DeepSeek-V3: MLA, 3 dense layers, then 1 shared + 256 routed experts, top-8.
dsv3 = dict(hidden=7168, layers=61, vocab=129280, expert_ffn=2048)
dsv3.update(experts=256, top_k=8, shared=1, dense_layers=3, dense_ffn=18432)
h, heads, q_rank, kv_rank = 7168, 128, 1536, 512
nope, rope, v_dim = 128, 64, 128  # per-head widths
mla = h * q_rank + q_rank + q_rank * heads * (nope + rope)  # query path
mla += h * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v_dim)  # KV
mla += heads * v_dim * h  # output projection
print(" model        | total (B) | active (B) | w/o input emb. | published")
ours = {}
for name, cfg, attention, published in [
    ("Mixtral-8x7B", mixtral, gqa, (46.7, 12.9)),
    ("DeepSeek-V3", dsv3, mla, (671, 37)),
]:
    total, active, emb = ours[name] = billions(cfg, attention)
    shown = f"{published[0]:g} / {published[1]:g}"
    print(
        f" {name:<12} | {total:>9.1f} | {active:>10.1f} |"
        f" {active - emb:>14.1f} | {shown}"
    )
    assert abs(total / published[0] - 1) < 0.01  # within 1 %
    assert abs(active / published[1] - 1) < 0.02  # within 2 %
total, active, emb = ours["Mixtral-8x7B"]
assert (round(active, 1), round(active - emb, 1)) == (12.9, 12.7)
total, active, emb = ours["DeepSeek-V3"]
assert [round(b, 1) for b in (total, active, active - emb)] == [671, 37.6, 36.6]
# DeepSeek's README_WEIGHTS.md: 36.7B active, "including 0.9B for Embedding
# and 0.9B for the output Head". The config gives 0.93B for each; counting
# both gives 2.3 % more than 36.7B, so that convention does not explain it.
vs_report, vs_readme = active / 37 - 1, active / 36.7 - 1
print(f"DeepSeek-V3: embedding = head = {emb:.2f}B; active {active:.1f}B is")
print(
    f"  {vs_report:+.1%} vs the report's 37B and "
    f"{vs_readme:+.1%} vs README_WEIGHTS.md's 36.7B"
)
assert round(emb, 1) == 0.9
assert (round(vs_report, 3), round(vs_readme, 3)) == (0.015, 0.023)

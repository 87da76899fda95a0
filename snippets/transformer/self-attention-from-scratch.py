"""Multi-head self-attention by hand: head reshape, 1/sqrt(d_k), masks."""

import math

import torch
import torch.nn.functional as F

from mllm_handbook.attention import (
    attention_weights,
    merge_heads,
    multi_head_attention,
    softmax_jacobian,
    split_heads,
)
from mllm_handbook.figures import new_figure, show
from mllm_handbook.masks import causal_mask, padding_mask

torch.manual_seed(0)

# 1. [B, L, D] -> [B, H, L, d]: cut each token's D features into H heads.
B, L, D, H = 2, 5, 16, 4
x = torch.randn(B, L, D)
heads = split_heads(x, H)  # reshape to [B, L, H, d], then transpose
print(f"x {tuple(x.shape)} -> heads {tuple(heads.shape)}")
assert heads.shape == (B, H, L, D // H)
assert torch.equal(heads[:, 1], x[..., 4:8])  # head 1 = features 4..7
assert torch.equal(merge_heads(heads), x)

# 2. Same output as nn.MultiheadAttention (copied weights) and as SDPA.
mha = torch.nn.MultiheadAttention(D, H, bias=False, batch_first=True)
w_in, w_out = mha.in_proj_weight.detach(), mha.out_proj.weight.detach()
ours = multi_head_attention(x, x, w_in, w_out, H, is_causal=True)
blocked = ~causal_mask(L)  # nn.MultiheadAttention: True = NOT allowed
ref = mha(x, x, x, attn_mask=blocked, need_weights=False)[0]
q, k, v = (split_heads(x @ w.T, H) for w in w_in.chunk(3))
sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
assert torch.allclose(ours, ref, atol=1e-6)
assert torch.allclose(ours, merge_heads(sdpa) @ w_out.T, atol=1e-6)
wrong = F.scaled_dot_product_attention(
    *((x @ w.T).view(B, H, L, D // H) for w in w_in.chunk(3)), is_causal=True
)  # view without the transpose: no error, wrong answer
assert not torch.allclose(wrong.view(B, L, D) @ w_out.T, ours, atol=1e-3)
print("equals nn.MultiheadAttention and F.scaled_dot_product_attention")

# 3. Var(q . k) = d_k for unit-variance q, k; dividing by sqrt(d_k) gives 1.
print(" d_k | Var(q.k) | Var(q.k / sqrt(d_k))")
for d_k in (16, 64, 256, 1024):
    qs, ks = torch.randn(2, 2500, d_k)
    dots = (qs * ks).sum(-1)
    raw, scaled = dots.var().item(), (dots / math.sqrt(d_k)).var().item()
    print(f"{d_k:>4} | {raw:>8.1f} | {scaled:>20.3f}")
    assert abs(raw / d_k - 1) < 0.1 and abs(scaled - 1) < 0.1

# 4. Without the scaling the softmax saturates: one key takes all the
#    weight and the Jacobian diag(p) - p p^T that carries gradient vanishes.
n_keys, dims = 32, (16, 64, 256, 1024)
table = torch.zeros(2, len(dims), 3)  # [raw/scaled, d_k, statistic]
for i, d_k in enumerate(dims):
    qs, ks = torch.randn(100, 1, d_k), torch.randn(100, n_keys, d_k)
    s = (qs * ks).sum(-1)
    for j, scores in enumerate((s, s / math.sqrt(d_k))):
        p = scores.softmax(-1)
        entropy = -(p * p.clamp_min(1e-30).log()).sum(-1)
        jac = softmax_jacobian(p).flatten(-2).norm(dim=-1)  # Frobenius
        table[j, i] = torch.stack([p.amax(-1), entropy, jac]).mean(-1)
print(f"{n_keys} keys; entropy of uniform = {math.log(n_keys):.2f} nats")
print(" d_k | scaling | max prob | entropy | Jacobian norm")
for i, d_k in enumerate(dims):
    for j, name in enumerate(("raw", "scaled")):
        top, ent, jac = table[j, i].tolist()
        print(
            f"{d_k:>4} | {name:>7} | {top:>8.2f} | {ent:>7.2f} | {jac:>13.3f}"
        )
(raw_top, raw_ent, raw_jac), (sc_top, _, sc_jac) = table[0].T, table[1].T
assert raw_top[-1] > 0.9 and sc_top.max() < 0.2
assert f"{raw_top[-1]:.2f} {raw_ent[-1]:.2f}" == "0.96 0.10"  # d_k = 1024
assert raw_jac[0] > sc_jac[0]  # d_k = 16: not saturated yet
assert (raw_jac[1:].diff() < 0).all() and raw_jac[-1] < sc_jac[-1] / 4
assert (sc_jac.max() - sc_jac.min()) / sc_jac.mean() < 0.05

fig, axes = new_figure(6.4, 2.6, ncols=2)
for ax, (raw_v, sc_v), label in (
    (axes[0], (raw_top, sc_top), "mean max probability"),
    (axes[1], (raw_jac, sc_jac), "mean softmax Jacobian norm"),
):
    ax.plot(dims, raw_v, marker="o", label="q.k (no scaling)")
    ax.plot(dims, sc_v, marker="s", label="q.k / sqrt(d_k)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [str(d) for d in dims], minor=False)
    ax.minorticks_off()
    ax.set_xlabel("d_k")
    ax.set_ylabel(label)
axes[0].legend(frameon=False, fontsize=8)
show(
    fig,
    alt="Without scaling, the largest attention weight rises towards 1 and "
    "the softmax Jacobian norm falls as d_k grows from 16 to 1024; with "
    "scaling by the square root of d_k both stay flat.",
)

# 5. Masks: causal AND key padding. Left padding (as in batched generation)
#    leaves the first rows of the short sequence with no key to attend to.
keep = padding_mask(torch.tensor([5, 3]), L).flip(-1)  # [[1,1,1,1,1],
mask = causal_mask(L) & keep[:, None, None, :]  #        [0,0,1,1,1]]
w = attention_weights(q, k, mask)
assert torch.all(w[~mask.expand_as(w)] == 0)  # masked weights: exactly 0
has_key = mask.any(-1).expand(B, H, L)
assert torch.allclose(w.sum(-1)[has_key], torch.ones(()))  # rows sum to 1
assert torch.all(w.sum(-1)[~has_key] == 0)  # empty rows: all 0
print("weights of sequence 2, head 1 (2 pad tokens on the left, causal):")
for row in w[1, 0].tolist():
    print("  " + " ".join(f"{p:.2f}" for p in row))

scores = q @ k.transpose(-2, -1) / math.sqrt(D // H)
naive = scores.masked_fill(~mask, float("-inf")).softmax(-1)  # unguarded
out1 = naive @ v  # empty rows: softmax of all -inf = 0/0 = NaN
out2 = naive @ out1  # next layer: weight 0 on the NaN rows, but 0 * NaN = NaN
bad1, bad2 = out1.isnan().any(-1), out2.isnan().any(-1)
print(f"layer 1: {bad1.sum().item()} NaN rows (the rows with no key)")
print(f"layer 2: {bad2.sum().item()} NaN rows (all of sequence 2)")
assert torch.equal(bad1, ~has_key) and bad2[1].all() and not bad2[0].any()
finite = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1)
assert not finite.isnan().any()  # a finite "minus infinity": no NaN, but
assert torch.allclose(finite[~has_key], torch.tensor(1 / L))  # uniform rows
guarded = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
assert torch.allclose(w @ v, guarded, atol=1e-6)  # PyTorch 2.13: 0, not NaN

# 6. H heads of width D/H have exactly the parameters of one head of width D.
for h in (1, 2, 4, 8):
    m = torch.nn.MultiheadAttention(D, h, bias=False)
    assert sum(p.numel() for p in m.parameters()) == 4 * D * D
print(f"parameters for H = 1, 2, 4, 8 (D = {D}): {4 * D * D} each")

"""GQA as shared K/V heads, KV-cache bytes per token, MLA weight absorption."""

import torch
import torch.nn.functional as F

from mllm_handbook.attention import grouped_query_attention
from mllm_handbook.positional import apply_rope
from mllm_handbook.scaling import (
    kv_cache_bytes_per_token,
    mla_kv_cache_bytes_per_token,
)

torch.manual_seed(0)

# 1. GQA: 8 query heads read H_kv shared K/V heads (H_kv = 8: MHA, 1: MQA).
B, H, L, d = 2, 8, 6, 16
q = torch.randn(B, H, L, d)
print("H_kv | kind | K/V values cached per token and layer")
for h_kv, kind in ((8, "MHA"), (4, "GQA"), (2, "GQA"), (1, "MQA")):
    k, v = torch.randn(2, B, h_kv, L, d)
    ours = grouped_query_attention(q, k, v, is_causal=True)
    ref = F.scaled_dot_product_attention(
        q, k, v, is_causal=True, enable_gqa=True
    )
    assert torch.allclose(ours, ref, atol=1e-6)
    print(f"{h_kv:>4} | {kind} | {2 * h_kv * d:>4} = 2 x {h_kv} x {d}")
print("all equal F.scaled_dot_product_attention(..., enable_gqa=True)")

# 2. KV-cache bytes per token in bf16 (2 bytes), from the released configs.
KiB = 1024
rows = [  # name, bytes per token
    ("LLaMA-2-7B, MHA 32 heads", kv_cache_bytes_per_token(32, 32, 128)),
    ("LLaMA-2-70B, GQA 8 KV heads", kv_cache_bytes_per_token(80, 8, 128)),
    ("  same model if MHA (64)", kv_cache_bytes_per_token(80, 64, 128)),
    ("DeepSeek-V2, MLA 512 + 64", mla_kv_cache_bytes_per_token(60, 512, 64)),
    ("  same model if MHA (128)", kv_cache_bytes_per_token(60, 128, 128)),
]
print(f"{'model':<28} | KiB/token | GiB per 4096 tokens")
for name, b in rows:
    print(f"{name:<28} | {b / KiB:>9.1f} | {b * 4096 / KiB**3:>19.3f}")
assert [b / KiB for _, b in rows] == [512, 320, 2560, 67.5, 3840]
# MLA caches d_c + d_R = 576 values per layer: as much as GQA with
# 576 / (2 x 128) = 2.25 groups (DeepSeek-V2, Table 1).
assert (512 + 64) / (2 * 128) == 2.25

# 3. MLA: keys are up-projected from a cached latent c, k_j = W_UK c_j, so
#    q . (W_UK c_j) = (W_UK^T q) . c_j: fold W_UK into the query, cache c.
n_h, d_h, d_c, d_r, T = 4, 8, 16, 4, 10  # heads, head dim, latent, RoPE dim
c = torch.randn(T, d_c)  # the cached latents c_j, one per token
w_uk = torch.randn(n_h, d_h, d_c)  # key up-projection, per head
w_uv = torch.randn(n_h, d_h, d_c)  # value up-projection, per head
q_c = torch.randn(n_h, d_h)  # the new token's query, per head
k_c = torch.einsum("hdc,tc->htd", w_uk, c)  # keys rebuilt: [n_h, T, d_h]
naive = torch.einsum("hd,htd->ht", q_c, k_c)
q_abs = torch.einsum("hdc,hd->hc", w_uk, q_c)  # W_UK^T q: [n_h, d_c]
absorbed = q_abs @ c.T  # scores straight from the latents
assert torch.allclose(naive, absorbed, atol=1e-4)
p = absorbed.softmax(-1)  # values too: sum_j p_j W_UV c_j = W_UV sum_j p_j c_j
out_naive = torch.einsum("ht,htd->hd", p, torch.einsum("hdc,tc->htd", w_uv, c))
out_absorbed = torch.einsum("hdc,hc->hd", w_uv, p @ c)  # W_UV joins W_O
assert torch.allclose(out_naive, out_absorbed, atol=1e-4)
print("absorbed W_UK and W_UV: same scores and outputs from the latents")

# 4. RoPE on k_j = W_UK c_j puts a rotation R_j between W_UK and c_j:
#    (R_t q) . (R_j W_UK c_j) = (W_UK^T R_{t-j} q) . c_j, a different
#    absorbed query u_j for every cached position j.
t, pos = T - 1, torch.arange(T)
q_rot = apply_rope(q_c[:, None, :], torch.tensor([t]))  # [n_h, 1, d_h]
roped = (q_rot * apply_rope(k_c, pos)).sum(-1)  # [n_h, T]
u = torch.einsum(
    "hdc,htd->htc", w_uk, apply_rope(q_rot.expand(-1, T, -1), -pos)
)
assert torch.allclose(roped, (u * c).sum(-1), atol=1e-4)
assert torch.allclose(u[:, -1], q_abs, atol=1e-4)  # j = t: R_0 = I
spread = ((u - u[:, -1:]).norm(dim=-1) / u[:, -1:].norm(dim=-1)).amax()
print(f"with RoPE, u_j changes with j: max |u_j - u_t| / |u_t| = {spread:.2f}")
assert spread > 0.5 and f"{spread:.2f}" == "1.70"

# 5. Decoupled RoPE: a small extra key k^R_j (shared by all heads, cached
#    next to c_j) carries the position; the content part stays absorbable.
k_r = apply_rope(torch.randn(T, d_r), pos)  # cached: d_c + d_r per token
q_r = apply_rope(torch.randn(n_h, 1, d_r), torch.tensor([t]))
full_q = torch.cat([q_c[:, None, :], q_r], -1)  # [n_h, 1, d_h + d_r]
full_k = torch.cat([k_c, k_r.expand(n_h, -1, -1)], -1)  # [n_h, T, d_h + d_r]
reference = (full_q * full_k).sum(-1)
decoupled = q_abs @ c.T + (q_r * k_r).sum(-1)
assert torch.allclose(reference, decoupled, atol=1e-4)
print(f"decoupled RoPE: equal scores, cache {d_c} + {d_r} values per token")

"""Parameter and KV-cache counts of open LLMs from their released configs."""

from mllm_handbook.llm_configs import (
    CONFIGS,
    attention_params,
    ffn_params,
    kv_cache_bytes,
    parameter_breakdown,
)
from mllm_handbook.scaling import kv_cache_bytes_per_token

# 1. One LLaMA-2-7B layer: attention 4d^2, SwiGLU FFN 3 * d * 11008.
llama = CONFIGS["LLaMA-2-7B"]
attn, ffn = attention_params(llama), ffn_params(llama, 0)
print(f"LLaMA-2-7B layer: attention {attn:,}, FFN {ffn:,}")
assert attn == 4 * 4096**2 and ffn == 3 * 4096 * 11008

# 2. Totals, active parameters and KV cache per token (bf16).
print(
    f"{'model':16} | {'total':>7} | {'active':>7} | {'non-emb':>7} | "
    f"{'KV/token':>9} | {'KV@4K':>8}"
)
rows = {}
for name, cfg in CONFIGS.items():
    total = parameter_breakdown(cfg)
    active = parameter_breakdown(cfg, active=True)
    emb = total["input_embedding"] + total["output_head"]
    kv = kv_cache_bytes(cfg)
    rows[name] = (total["total"], active["total"], kv)
    print(
        f"{name:16} | {total['total'] / 1e9:6.2f}B | "
        f"{active['total'] / 1e9:6.2f}B | {(total['total'] - emb) / 1e9:6.2f}B"
        f" | {kv / 1024:6.1f}KiB | {kv * 4096 / 2**20:5.0f}MiB"
    )


def near(x: float, target: float, tol: float) -> bool:
    """|x - target| < tol."""
    return abs(x - target) < tol


# The numbers the page's table quotes: total B, active B, KV KiB per token.
table = {
    "LLaMA-2-7B": (6.74, 6.74, 512.0),
    "Llama-3-8B": (8.03, 8.03, 128.0),
    "Qwen-7B": (7.72, 7.72, 512.0),
    "Qwen2-0.5B": (0.49, 0.49, 12.0),
    "Qwen2-7B": (7.62, 7.62, 56.0),
    "DeepSeek-V2-Lite": (15.71, 2.66, 30.4),
    "DeepSeek-V2": (235.74, 21.38, 67.5),
}
for name, (total, active, kv) in rows.items():
    shown = (round(total / 1e9, 2), round(active / 1e9, 2), round(kv / 1024, 1))
    assert shown == table[name], (name, shown)

# 3. Checks against published totals.
assert rows["LLaMA-2-7B"][0] == 6_738_415_616  # "6.7B" (LLaMA, Table 2)
assert near(rows["DeepSeek-V2-Lite"][0], 15.7e9, 0.05e9)
assert near(rows["DeepSeek-V2"][0], 236e9, 0.5e9)
small = parameter_breakdown(CONFIGS["Qwen2-0.5B"])  # tied: one V x d matrix
assert round(100 * small["input_embedding"] / small["total"], 1) == 27.6

# Activated parameters: DeepSeek reports 2.4B (Lite) and 21B. The counts
# above include the input embedding table; without it (a lookup, one row
# per token) both published numbers are reproduced.
lite = parameter_breakdown(CONFIGS["DeepSeek-V2-Lite"], active=True)
v2 = parameter_breakdown(CONFIGS["DeepSeek-V2"], active=True)
lite_no_input = lite["total"] - lite["input_embedding"]
v2_no_input = v2["total"] - v2["input_embedding"]
print(
    f"active without the input embedding: Lite {lite_no_input / 1e9:.2f}B, "
    f"V2 {v2_no_input / 1e9:.2f}B"
)
assert (
    round(lite_no_input / 1e9, 2) == 2.45
    and round(v2_no_input / 1e9, 2) == 20.85
)
assert near(lite_no_input, 2.4e9, 0.06e9) and near(v2_no_input, 21e9, 0.5e9)
assert not near(lite["total"], 2.4e9, 0.2e9)  # with it: 2.66B

# The Qwen2 release blog lists 7.07B in total and 5.98B non-embedding
# parameters for Qwen2-7B. Both fall short of the config counts by exactly
# one V x d embedding matrix: the total counts it once, and the
# non-embedding figure subtracts it twice.
qwen2 = parameter_breakdown(CONFIGS["Qwen2-7B"])
embeddings = qwen2["input_embedding"] + qwen2["output_head"]
non_embedding = qwen2["total"] - embeddings
gaps = (qwen2["total"] - 7.07e9, non_embedding - 5.98e9)
print(
    f"Qwen2-7B config - blog: total {gaps[0] / 1e9:.2f}B, "
    f"non-embedding {gaps[1] / 1e9:.2f}B"
)
assert round(non_embedding / 1e9, 2) == 6.53
one_embedding = qwen2["input_embedding"]  # V x d = 152064 x 3584
assert one_embedding == 152064 * 3584 == qwen2["output_head"]
assert all(near(gap, one_embedding, 0.005e9) for gap in gaps)

# 4. KV cache: Qwen-7B (MHA) -> Qwen2-7B (GQA, 4 KV heads); MLA vs MHA.
qwen_ratio = rows["Qwen-7B"][2] / rows["Qwen2-7B"][2]
mha_lite = kv_cache_bytes_per_token(27, 16, 128)  # 16 heads of 128, MHA
mla_ratio = mha_lite / rows["DeepSeek-V2-Lite"][2]
print(
    f"KV per token: Qwen-7B / Qwen2-7B = {qwen_ratio:.1f}x; "
    f"V2-Lite as MHA / MLA = {mla_ratio:.1f}x"
)
assert rows["Qwen-7B"][2] == 512 * 1024 and rows["Qwen2-7B"][2] == 56 * 1024
assert round(qwen_ratio, 1) == 9.1 and round(mla_ratio, 1) == 7.1
assert mha_lite == 216 * 1024

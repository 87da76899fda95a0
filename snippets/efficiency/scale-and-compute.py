"""Training compute C = 6ND against GPT-3's published figure; compute-optimal sizes; memory per parameter (page: efficiency/scale-and-compute)."""

from mllm_handbook.scaling import (
    ADAM_BYTES_PER_PARAM,
    WEIGHT_BYTES_PER_PARAM,
    compute_optimal_size,
    training_flops,
    zero_bytes_per_param,
)

PF_DAY = 1e15 * 86400  # one petaFLOP/s sustained for a day

# 1. GPT-3 175B on 300B tokens (Brown et al. 2020, Table D.1: 3.14e23 FLOPs, 3640 PF-days).
c_gpt3 = training_flops(175e9, 300e9)
print(
    f"GPT-3: 6ND = {c_gpt3:.3e} FLOPs = {c_gpt3 / PF_DAY:,.0f} PF-days (published: 3.14e23, 3,640)"
)
assert abs(c_gpt3 / 3.14e23 - 1) < 0.01
v100_days = (
    c_gpt3 / (0.3 * 125e12) / 86400
)  # at 30 % of a V100's 125 TFLOP/s fp16 peak
print(f"  = about {v100_days:,.0f} V100-days at 30 % utilisation")

# 2. Chinchilla (Hoffmann et al. 2022): about 20 tokens per parameter at the compute optimum.
n_opt, d_opt = compute_optimal_size(c_gpt3)
print(
    f"GPT-3's budget, compute-optimal: N = {n_opt / 1e9:.0f}B params, D = {d_opt / 1e12:.2f}T tokens"
)
print(
    f"Chinchilla itself: 70B params x 1.4T tokens = {1.4e12 / 70e9:.0f} tokens/param; GPT-3: {300e9 / 175e9:.1f}"
)
assert round(n_opt / 1e9) == 51

# 3. Memory per parameter: weights alone (inference) and Adam model states (training).
print(f"{'weights':<10} | bytes/param | 7B model | 175B model")
for precision, b in WEIGHT_BYTES_PER_PARAM.items():
    print(
        f"{precision:<10} | {b:>11.1f} | {7e9 * b / 1e9:>5.1f} GB | {175e9 * b / 1e9:>7.1f} GB"
    )
for regime, b in ADAM_BYTES_PER_PARAM.items():
    print(
        f"Adam {regime:<5} | {b:>11d} | {7e9 * b / 1e9:>5.0f} GB | {175e9 * b / 1e9:>7.0f} GB  (+ activations)"
    )
assert (
    ADAM_BYTES_PER_PARAM["mixed"] == 16
)  # 2 + 2 + 12 (ZeRO paper, section 3.1)

# 4. ZeRO-DP: per-GPU model states for 7.5B parameters on 64 GPUs (ZeRO paper, Fig. 1).
published = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}
for stage, gb in published.items():
    ours = 7.5e9 * zero_bytes_per_param(stage, 64) / 1e9
    print(
        f"ZeRO stage {stage}: {zero_bytes_per_param(stage, 64):6.3f} bytes/param -> {ours:6.2f} GB per GPU (paper: {gb})"
    )
    assert abs(ours - gb) < 0.05

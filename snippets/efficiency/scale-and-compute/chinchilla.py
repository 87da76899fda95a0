"""The compute-optimal size for GPT-3's budget at 20 tokens per parameter."""

from mllm_handbook.scaling import compute_optimal_size, training_flops

c_gpt3 = training_flops(175e9, 300e9)  # GPT-3's training compute, 6ND
n_opt, d_opt = compute_optimal_size(c_gpt3)  # N = sqrt(C / (6 * 20))
print(
    f"GPT-3's budget, compute-optimal: N = {n_opt / 1e9:.0f}B params, "
    f"D = {d_opt / 1e12:.2f}T tokens"
)
print(
    f"Chinchilla: 70B params x 1.4T tokens = {1.4e12 / 70e9:.0f} tokens/param"
)
print(f"GPT-3: 175B params x 300B tokens = {300e9 / 175e9:.1f} tokens/param")
assert round(n_opt / 1e9) == 51 and round(d_opt / 1e12) == 1
assert round(300e9 / 175e9, 1) == 1.7

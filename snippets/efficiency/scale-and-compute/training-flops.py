"""Training compute C = 6ND, checked against GPT-3's published figure."""

from mllm_handbook.scaling import training_flops

PF_DAY = 1e15 * 86400  # one petaFLOP/s sustained for a day

# GPT-3 175B on 300B tokens (Brown et al. 2020, Table D.1: 3.14e23 FLOPs,
# 3640 PF-days).
c_gpt3 = training_flops(175e9, 300e9)
print(f"GPT-3: 6ND = {c_gpt3:.3e} FLOPs = {c_gpt3 / PF_DAY:,.0f} PF-days")
print("published: 3.14e23 FLOPs, 3,640 PF-days")
assert abs(c_gpt3 / 3.14e23 - 1) < 0.01

# In GPU-days: at 30 % of a V100's 125 TFLOP/s fp16 peak.
v100_days = c_gpt3 / (0.3 * 125e12) / 86400
print(f"= about {v100_days:,.0f} V100-days at 30 % utilisation")
assert 0.9e5 < v100_days < 1.1e5  # roughly a hundred thousand

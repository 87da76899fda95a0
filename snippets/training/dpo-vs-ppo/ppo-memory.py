"""Weights and optimiser state of PPO's four models vs DPO's and GRPO's two."""

from mllm_handbook.preference import rlhf_memory_bytes

# No activations, no sharding: trained models take 16 bytes per parameter
# (mixed-precision AdamW), frozen ones 2 (bf16 weights).
setups = {
    "PPO, four 7B models": dict(
        policy=7e9, reference=7e9, reward=7e9, value=7e9
    ),
    "DPO, 7B": dict(policy=7e9, reference=7e9),
    "GRPO, 7B, rule reward": dict(policy=7e9, reference=7e9),
    "InstructGPT PPO (175B, 6B RM/value)": dict(
        policy=175e9, reference=175e9, reward=6e9, value=6e9
    ),
}
print(f"{'setup':<36} | policy | ref | reward | value | total GB")
gb = {}
for name, counts in setups.items():
    gb[name] = {k: v / 1e9 for k, v in rlhf_memory_bytes(**counts).items()}
    g = gb[name]
    print(
        f"{name:<36} | {g['policy']:>6.0f} | {g['reference']:>3.0f}"
        f" | {g['reward']:>6.0f} | {g['value']:>5.0f} | {g['total']:>8.0f}"
    )
ppo = gb["PPO, four 7B models"]
assert ppo["total"] == 252 and ppo["policy"] == ppo["value"] == 112
assert gb["DPO, 7B"]["total"] == gb["GRPO, 7B, rule reward"]["total"] == 126
assert gb["InstructGPT PPO (175B, 6B RM/value)"]["total"] == 3258

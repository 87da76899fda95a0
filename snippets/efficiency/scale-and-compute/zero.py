"""ZeRO's per-GPU model states for 7.5B parameters on 64 GPUs (its Fig. 1)."""

from mllm_handbook.scaling import zero_bytes_per_param

published = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}  # GB per GPU
for stage, paper in published.items():
    per_param = zero_bytes_per_param(stage, 64)
    ours = 7.5e9 * per_param / 1e9
    print(
        f"ZeRO stage {stage}: {per_param:6.3f} bytes/param"
        f" -> {ours:6.2f} GB per GPU (paper: {paper})"
    )
    assert abs(ours - paper) < 0.05

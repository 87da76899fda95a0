"""Bytes per parameter: weights for inference, Adam states for training."""

from mllm_handbook.scaling import ADAM_BYTES_PER_PARAM, WEIGHT_BYTES_PER_PARAM

print(f"{'weights':<10} | bytes/param | 7B model | 175B model")
for precision, b in WEIGHT_BYTES_PER_PARAM.items():
    print(
        f"{precision:<10} | {b:>11.1f} | {7e9 * b / 1e9:>5.1f} GB"
        f" | {175e9 * b / 1e9:>7.1f} GB"
    )
for regime, b in ADAM_BYTES_PER_PARAM.items():
    print(
        f"Adam {regime:<5} | {b:>11d} | {7e9 * b / 1e9:>5.0f} GB"
        f" | {175e9 * b / 1e9:>7.0f} GB  (+ activations)"
    )
# Mixed: fp16 weights and gradients + fp32 master weights and two moments
# (ZeRO paper, section 3.1); plain fp32 Adam: 4 + 4 + 8, no smaller.
assert ADAM_BYTES_PER_PARAM == {"fp32": 16, "mixed": 16}
mixed = ADAM_BYTES_PER_PARAM["mixed"]
assert 7e9 * mixed / 1e9 == 112 and 175e9 * mixed / 1e12 == 2.8  # GB, TB

"""Float formats, loss scaling, FP32 master weights and FP8 block scaling."""

import inspect
import math

import torch

from mllm_handbook.precision import (
    MIXED_PRECISION_BYTES,
    accumulate,
    format_summary,
    fp8_fake_quantize,
    round_trip,
    unscale_gradients,
    update_loss_scale,
)
from mllm_handbook.scaling import ADAM_BYTES_PER_PARAM

torch.manual_seed(0)
f32, f16, bf16 = torch.float32, torch.float16, torch.bfloat16
e4m3, e5m2 = torch.float8_e4m3fn, torch.float8_e5m2

# 1. Layouts and ranges, read off torch.finfo.
info = {dt: format_summary(dt) for dt in (f32, f16, bf16, e4m3, e5m2)}
print("dtype          exp man       max  min normal  min subnorm      eps")
for dt, s in info.items():
    name = str(dt).removeprefix("torch.")
    print(
        f"{name:<14} {s['exponent_bits']:>3} {s['mantissa_bits']:>3} "
        f"{s['max']:>9.3g} {s['smallest_normal']:>11.3g} "
        f"{s['smallest_subnormal']:>12.3g} {s['eps']:>8.3g}"
    )
assert info[f16]["max"] == 65504 and info[f16]["smallest_subnormal"] == 2**-24
assert info[bf16]["exponent_bits"] == info[f32]["exponent_bits"] == 8
assert info[bf16]["smallest_normal"] == info[f32]["smallest_normal"]
assert (info[e4m3]["max"], info[e5m2]["max"]) == (448, 57344)
assert info[e5m2]["smallest_normal"] == info[f16]["smallest_normal"]
# (exponent bits, mantissa bits m, e_min): the table's normal, subnormal, eps.
layout = {f32: (8, 23, -126), f16: (5, 10, -14), bf16: (8, 7, -126)}
layout |= {e4m3: (4, 3, -6), e5m2: (5, 2, -14)}
for dt, (e, m, e_min) in layout.items():
    s = info[dt]
    assert (s["exponent_bits"], s["mantissa_bits"]) == (e, m)
    assert (s["smallest_normal"], s["eps"]) == (2.0**e_min, 2.0**-m)
    assert s["smallest_subnormal"] == 2.0 ** (e_min - m)
for dt in (f32, bf16):  # largest normal: (2 - eps) * 2^127
    assert info[dt]["max"] == (2 - info[dt]["eps"]) * 2.0**127
span = info[e4m3]["max"] / info[e4m3]["smallest_subnormal"]
assert round(math.log2(span)) == 18  # E4M3 spans only about 2^18

# 2. FP16 overflows at 70000 and flushes 1e-8 to zero; BF16 keeps both.
x = torch.tensor([70000.0, 1e-8])
print(
    f"fp16: {round_trip(x, f16).tolist()}  bf16: {round_trip(x, bf16).tolist()}"
)
assert torch.isinf(round_trip(x, f16)[0]) and round_trip(x, f16)[1] == 0
assert round_trip(x, bf16)[0] == 70144
assert f"{round_trip(x, bf16)[1].item():.4e}" == "1.0012e-08"
edge = torch.tensor([2.0**-25, 2.0**-25 * 1.01])  # half of FP16's 2^-24
assert round_trip(edge, f16).tolist() == [0.0, 2.0**-24]  # below it: 0

# 3. Loss scaling: gradients below 2^-25 vanish in FP16 unless scaled first.
grads = torch.tensor([3 * 2.0**-30, 5 * 2.0**-29, -7 * 2.0**-29, 1e-8])
scale = 2.0**16  # GradScaler's initial scale
(unscaled,), found_inf = unscale_gradients([(grads * scale).half()], scale)
rel_err = ((unscaled - grads).abs() / grads.abs()).max().item()
print(f"fp16 without scaling: {round_trip(grads, f16).tolist()}")
print(f"scaled by 2^16, unscaled in fp32: max relative error {rel_err:.1e}")
assert (round_trip(grads, f16) == 0).all() and not found_inf
assert unscaled[:3].equal(grads[:3])  # exact: scale and unscale are exact
assert rel_err <= 2**-11  # only FP16's own rounding of 1e-8 * 2^16 remains
assert f"{rel_err:.1e}" == "2.8e-04"

# 4. Dynamic loss scaling: skip and halve on overflow, double after N steps.
defaults = inspect.signature(torch.amp.GradScaler).parameters
names = ("init_scale", "growth_factor", "backoff_factor", "growth_interval")
assert [defaults[k].default for k in names] == [2.0**16, 2.0, 0.5, 2000]
scale, good, interval = 2.0**16, 0, 3  # GradScaler's N is 2000
print("step |  scale | max|g| x scale | overflow: skip step")
skipped = []
for step, g_max in enumerate([2.0] + [0.5] * 8):
    scaled = (torch.tensor([g_max, -g_max / 3]) * scale).half()
    _, found_inf = unscale_gradients([scaled], scale)
    print(f"{step:>4} | {scale:>6.0f} | {g_max * scale:>14.0f} | {found_inf}")
    skipped += [step] if found_inf else []
    scale, good = update_loss_scale(scale, good, found_inf, 2.0, 0.5, interval)
assert skipped == [0, 7] and scale == 2.0**16

# 5. Stale updates: 1.0 + 1e-3, a hundred times.
results = {dt: accumulate(1.0, 1e-3, 100, dt) for dt in (f32, f16, bf16)}
for dt, w in results.items():
    print(f"1.0 + 100 x 1e-3 stored in {str(dt)[6:]:<8} = {w:.6f}")
assert results[bf16] == 1.0  # each 1e-3 is below half of bf16's 2^-7 spacing
assert abs(results[f32] - 1.1) < 1e-5
assert results[f16] == 1 + 100 * 2.0**-10  # each update rounds to 2^-10

# 6. What a mixed-precision Adam step keeps per parameter.
for what, nbytes in MIXED_PRECISION_BYTES.items():
    print(f"{what:<24} {nbytes} bytes")
total = sum(MIXED_PRECISION_BYTES.values())
print(f"{'total':<24} {total} bytes per parameter")
assert total == ADAM_BYTES_PER_PARAM["mixed"] == 16

# 7. FP8 (E4M3): one outlier per tensor versus scales per 1x128 block.
acts = torch.randn(4, 256)
print("outlier | rel. error per-tensor | per 1x128 block | zeros per-tensor")
errors = []
for outlier in (1e1, 1e2, 1e3, 1e4, 1e5):
    a = acts.clone()
    a[0, 0] = outlier
    rest = torch.ones_like(a, dtype=torch.bool)
    rest[0, :128] = False  # compare the blocks that do not hold the outlier
    err = []
    for block in (None, 128):
        q = fp8_fake_quantize(a, e4m3, block_size=block)
        err.append(((q - a).abs() / a.abs())[rest].mean().item())
    zeros = (fp8_fake_quantize(a, e4m3)[rest] == 0).float().mean().item()
    errors.append(err)
    print(
        f"{outlier:>7.0e} | {err[0]:>21.3f} | {err[1]:>15.3f} | {zeros:>16.1%}"
    )
assert all(e[1] < 0.03 for e in errors)  # blocks: same error at any outlier
assert errors[-1][0] > 10 * errors[-1][1]  # per-tensor: error grows with it
assert zeros > 0.1  # and values fall below E4M3's smallest subnormal
assert (
    f"{errors[-1][0]:.3f} {errors[-1][1]:.3f} {zeros:.1%}"
    == "0.315 0.022 17.3%"
)

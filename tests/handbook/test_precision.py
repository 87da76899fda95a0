"""precision: format layouts against IEEE/FP8 definitions, loss scaling against torch.amp.GradScaler, FP8 scaling."""

import pytest
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


@pytest.mark.parametrize(
    ("dtype", "exponent", "mantissa", "maximum"),
    [
        (torch.float32, 8, 23, 3.4028234663852886e38),
        (torch.float16, 5, 10, 65504.0),
        (torch.bfloat16, 8, 7, 3.3895313892515355e38),
        (torch.float8_e4m3fn, 4, 3, 448.0),  # FP8 formats paper, Table 1
        (torch.float8_e5m2, 5, 2, 57344.0),
    ],
)
def test_format_layout(dtype, exponent, mantissa, maximum):
    info = format_summary(dtype)
    assert (info["exponent_bits"], info["mantissa_bits"], info["max"]) == (exponent, mantissa, maximum)
    assert 1 + info["exponent_bits"] + info["mantissa_bits"] == info["bits"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2])
def test_smallest_subnormal_is_the_smallest_value_that_survives(dtype):
    tiny = format_summary(dtype)["smallest_subnormal"]
    assert round_trip(torch.tensor([tiny], dtype=torch.float64), dtype).item() == tiny
    assert round_trip(torch.tensor([tiny / 2], dtype=torch.float64), dtype).item() == 0.0  # tie -> even = 0
    assert round_trip(torch.tensor([tiny * 0.51], dtype=torch.float64), dtype).item() == tiny


def test_fp16_subnormal_is_two_to_minus_24():
    assert format_summary(torch.float16)["smallest_subnormal"] == 2.0**-24  # Micikevicius et al. 2018, §3.2


def test_round_trip_overflow_and_underflow():
    x = torch.tensor([65519.0, 65520.0, 70000.0, 1e-8, -70000.0])
    half = round_trip(x, torch.float16)
    assert half[0] == 65504 and torch.isinf(half[1:3]).all() and half[3] == 0 and half[4] == -float("inf")
    bf = round_trip(x, torch.bfloat16)
    assert torch.isfinite(bf).all() and bf[3] > 0
    assert round_trip(x, torch.float32).equal(x)


def test_round_trip_rejects_integers():
    with pytest.raises(ValueError, match="floating-point"):
        round_trip(torch.tensor([1, 2]), torch.float16)


def test_format_summary_rejects_integer_dtype():
    with pytest.raises(ValueError, match="floating-point dtype"):
        format_summary(torch.int8)


def test_accumulate_loses_small_updates_in_bf16_only():
    assert accumulate(1.0, 1e-3, 100, torch.bfloat16) == 1.0
    assert accumulate(1.0, 1e-3, 100, torch.float32) == pytest.approx(1.1, abs=1e-5)
    fp16 = accumulate(1.0, 1e-3, 100, torch.float16)
    assert fp16 == pytest.approx(1 + 100 * 2.0**-10)  # each update rounds to one FP16 spacing
    # The threshold is half a spacing: 2^-8 just above 1 in bf16 is lost (tie to even), a bit more survives.
    assert accumulate(1.0, 2.0**-8, 1, torch.bfloat16) == 1.0
    assert accumulate(1.0, 2.0**-8 * 1.01, 1, torch.bfloat16) == 1 + 2.0**-7
    assert accumulate(3.0, 1e-3, 0, torch.float16) == 3.0
    with pytest.raises(ValueError, match="steps must be >= 0"):
        accumulate(1.0, 1e-3, -1, torch.float32)


def test_loss_scale_preserves_small_gradients_exactly():
    grads = torch.tensor([3 * 2.0**-30, 5 * 2.0**-29, -7 * 2.0**-29])  # below 2^-25, half of FP16's 2^-24
    assert (round_trip(grads, torch.float16) == 0).all()
    scale = 2.0**16
    unscaled, found_inf = unscale_gradients([(grads * scale).half()], scale)
    assert not found_inf and unscaled[0].dtype == torch.float32
    assert unscaled[0].equal(grads)  # powers of two: no rounding from scaling or unscaling


def test_unscale_matches_pytorch_kernel_and_flags_inf_and_nan():
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(4, 3, generator=g).half(), torch.randn(5, generator=g).half()]
    ours, found = unscale_gradients(grads, 1024.0)
    ref = [x.float() for x in grads]
    flag = torch.zeros(1)
    torch._amp_foreach_non_finite_check_and_unscale_(ref, flag, torch.tensor([1 / 1024.0]))
    assert not found and flag.item() == 0
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for bad in (float("inf"), float("nan")):
        assert unscale_gradients([torch.tensor([1.0, bad])], 2.0)[1]
    with pytest.raises(ValueError, match="scale must be > 0"):
        unscale_gradients(grads, 0.0)


def test_update_loss_scale_matches_grad_scaler():
    # Drive torch.amp.GradScaler with a loss that is inf on chosen steps and compare every scale.
    pattern = [True, False, False, False, False, True, False, False, False, False, False, True, True]
    param = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([param], lr=0.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    scale, good = 2.0**10, 0
    for overflow in pattern:
        opt.zero_grad()
        loss = param.sum() * (float("inf") if overflow else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        scale, good = update_loss_scale(scale, good, overflow, growth_interval=3)
        assert scaler.get_scale() == scale
    assert scale != 2.0**10  # the pattern both grew and shrank the scale


def test_update_loss_scale_defaults_and_rules():
    assert update_loss_scale(65536.0, 0, True) == update_loss_scale(65536.0, 0, True, 2.0, 0.5, 2000)
    assert update_loss_scale(65536.0, 1998, False) == (65536.0, 1999)
    assert update_loss_scale(65536.0, 1999, False) == (131072.0, 0)
    assert update_loss_scale(65536.0, 1999, True) == (32768.0, 0)
    assert update_loss_scale(8.0, 0, False, growth_interval=1) == (16.0, 0)  # valid edge N = 1
    with pytest.raises(ValueError, match="growth_factor"):
        update_loss_scale(1.0, 0, False, growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff_factor"):
        update_loss_scale(1.0, 0, False, backoff_factor=1.0)
    with pytest.raises(ValueError, match="growth_interval"):
        update_loss_scale(1.0, 0, False, growth_interval=0)


def test_mixed_precision_bytes_are_zeros_sixteen():
    assert sum(MIXED_PRECISION_BYTES.values()) == ADAM_BYTES_PER_PARAM["mixed"] == 16


def reference_fp8(x, dtype, block):
    """Loop over groups: scale by absmax / max, cast, unscale."""
    out = torch.empty_like(x)
    flat, flat_out = x.reshape(-1, x.shape[-1]), out.view(-1, x.shape[-1])
    for r in range(flat.shape[0]):
        for c in range(0, x.shape[-1], block):
            g = flat[r, c : c + block]
            s = g.abs().max() / torch.finfo(dtype).max
            flat_out[r, c : c + block] = (g / s).to(dtype).float() * s
    return out


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_fp8_block_quantize_matches_loop(dtype):
    x = torch.randn(2, 3, 12, generator=torch.Generator().manual_seed(1)) + 0.5
    torch.testing.assert_close(fp8_fake_quantize(x, dtype, block_size=4), reference_fp8(x, dtype, 4))
    per_tensor = fp8_fake_quantize(x, dtype)
    torch.testing.assert_close(per_tensor, reference_fp8(x.reshape(1, -1), dtype, x.numel()).reshape(x.shape))


def test_fp8_default_dtype_is_e4m3_and_max_is_exact():
    x = torch.tensor([[0.3, -1.7, 2.9, 0.05]])
    assert fp8_fake_quantize(x).equal(fp8_fake_quantize(x, torch.float8_e4m3fn, None))
    assert fp8_fake_quantize(x)[0, 2] == x[0, 2]  # the absmax maps to 448 and back exactly


def test_fp8_blocks_isolate_an_outlier_and_zero_blocks():
    x = torch.full((1, 8), 1e-3)
    x[0, 0] = 1e4
    x[0, 4:] = 0.0
    per_tensor = fp8_fake_quantize(x)
    per_block = fp8_fake_quantize(x, block_size=2)
    assert per_tensor[0, 2] == 0  # 1e-3 * 448 / 1e4 is below E4M3's smallest subnormal 2^-9
    torch.testing.assert_close(per_block[0, 2:4], x[0, 2:4], rtol=2**-4, atol=0)
    assert per_block[0, 4:].eq(0).all() and not per_block.isnan().any()


def test_fp8_bad_inputs():
    x = torch.ones(2, 6)
    with pytest.raises(ValueError, match="block_size must divide"):
        fp8_fake_quantize(x, block_size=4)
    with pytest.raises(ValueError, match="block_size must divide"):
        fp8_fake_quantize(x, block_size=0)
    with pytest.raises(ValueError, match="FP8 dtype"):
        fp8_fake_quantize(x, torch.float16)
    with pytest.raises(ValueError, match="floating-point"):
        fp8_fake_quantize(x.long())
    assert fp8_fake_quantize(x, block_size=6).equal(x)  # valid edge: one block per row

"""scaling: 6ND against GPT-3's published compute; ZeRO's memory example; compute-optimal sizes."""

import pytest

from mllm_handbook.scaling import (
    ADAM_BYTES_PER_PARAM,
    compute_optimal_size,
    training_flops,
    zero_bytes_per_param,
)


def test_gpt3_compute_within_one_percent():
    # Brown et al. 2020, Table D.1: GPT-3 175B, 300B tokens, 3.14e23 FLOPs (3640 PF-days).
    c = training_flops(175e9, 300e9)
    assert abs(c / 3.14e23 - 1) < 0.01
    assert abs(c / (1e15 * 86400) / 3640 - 1) < 0.01


def test_adam_bytes_per_param():
    assert ADAM_BYTES_PER_PARAM == {"fp32": 16, "mixed": 16}


@pytest.mark.parametrize(("stage", "gb"), [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_figure_1(stage, gb):
    # Rajbhandari et al. 2019, Fig. 1: 7.5B parameters on 64 GPUs.
    assert round(7.5e9 * zero_bytes_per_param(stage, 64) / 1e9, 1) == pytest.approx(gb, abs=0.05)


def test_compute_optimal_size_roundtrip():
    n, d = compute_optimal_size(training_flops(70e9, 1.4e12))  # Chinchilla: 70B params, 1.4T tokens
    assert n == pytest.approx(70e9, rel=1e-9) and d == pytest.approx(1.4e12, rel=1e-9)


def test_bad_inputs():
    with pytest.raises(ValueError, match="must be > 0"):
        training_flops(0, 1e9)
    with pytest.raises(ValueError, match="must be > 0"):
        compute_optimal_size(-1.0)
    with pytest.raises(ValueError, match="stage must be"):
        zero_bytes_per_param(4, 8)
    with pytest.raises(ValueError, match="num_gpus"):
        zero_bytes_per_param(1, 0)


def test_kv_cache_bytes_llama2_7b_and_70b():
    from mllm_handbook.scaling import kv_cache_bytes_per_token

    # LLaMA-2-7B: 32 layers, 32 KV heads of 128 -> 0.5 MiB per token in fp16; 70B: 80 layers, 8 KV heads.
    assert kv_cache_bytes_per_token(32, 32, 128) == 524_288
    assert kv_cache_bytes_per_token(80, 8, 128) == 327_680
    assert kv_cache_bytes_per_token(80, 8, 128, bytes_per_value=1) == 163_840
    assert kv_cache_bytes_per_token(2, 3, 5, bytes_per_value=4) == 2 * 2 * 3 * 5 * 4


def test_mla_kv_cache_bytes_deepseek_v2():
    from mllm_handbook.scaling import mla_kv_cache_bytes_per_token

    # DeepSeek-V2: 60 layers, d_c = 512, d_h^R = 64 -> 576 values per layer and token.
    assert mla_kv_cache_bytes_per_token(60, 512, 64) == 60 * 576 * 2
    assert mla_kv_cache_bytes_per_token(3, 7, 5, bytes_per_value=4) == 3 * 12 * 4

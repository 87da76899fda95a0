"""llm_configs: counts against real nn.Module stacks built from the same configs, and published totals."""

import dataclasses

import pytest
import torch.nn as nn

from mllm_handbook.llm_configs import (
    CONFIGS,
    LLMConfig,
    attention_params,
    ffn_params,
    head_size,
    kv_cache_bytes,
    parameter_breakdown,
)
from mllm_handbook.scaling import kv_cache_bytes_per_token, mla_kv_cache_bytes_per_token


def _swiglu(d: int, m: int) -> nn.Module:
    return nn.ModuleList(
        [nn.Linear(d, m, bias=False), nn.Linear(d, m, bias=False), nn.Linear(m, d, bias=False)]
    )


def _attention(cfg: LLMConfig) -> nn.Module:
    d, h = cfg.hidden_size, cfg.num_heads
    if cfg.kv_lora_rank == 0:  # LLaMA / Qwen2 module layout
        dh = cfg.head_dim or d // h
        return nn.ModuleList(
            [
                nn.Linear(d, h * dh, bias=cfg.qkv_bias),
                nn.Linear(d, cfg.num_kv_heads * dh, bias=cfg.qkv_bias),
                nn.Linear(d, cfg.num_kv_heads * dh, bias=cfg.qkv_bias),
                nn.Linear(h * dh, d, bias=False),
            ]
        )
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim  # DeepSeek-V2 MLA module layout
    if cfg.q_lora_rank is None:
        q = [nn.Linear(d, h * qk, bias=False)]
    else:
        q = [
            nn.Linear(d, cfg.q_lora_rank, bias=False),
            nn.RMSNorm(cfg.q_lora_rank),
            nn.Linear(cfg.q_lora_rank, h * qk, bias=False),
        ]
    return nn.ModuleList(
        [
            *q,
            nn.Linear(d, cfg.kv_lora_rank + cfg.qk_rope_head_dim, bias=False),
            nn.RMSNorm(cfg.kv_lora_rank),
            nn.Linear(cfg.kv_lora_rank, h * (cfg.qk_nope_head_dim + cfg.v_head_dim), bias=False),
            nn.Linear(h * cfg.v_head_dim, d, bias=False),
        ]
    )


def _ffn(cfg: LLMConfig, layer: int, active: bool) -> nn.Module:
    d = cfg.hidden_size
    if cfg.num_experts == 0 or layer < cfg.first_dense_layers:
        return _swiglu(d, cfg.intermediate_size)
    routed = cfg.experts_per_token if active else cfg.num_experts
    return nn.ModuleList(
        [
            nn.Linear(d, cfg.num_experts, bias=False),  # router
            _swiglu(d, cfg.moe_intermediate_size * cfg.num_shared_experts),  # shared experts, fused
            *[_swiglu(d, cfg.moe_intermediate_size) for _ in range(routed)],
        ]
    )


def _reference_model(cfg: LLMConfig, active: bool = False) -> nn.Module:
    layers = [
        nn.ModuleList(
            [nn.RMSNorm(cfg.hidden_size), _attention(cfg), nn.RMSNorm(cfg.hidden_size), _ffn(cfg, i, active)]
        )
        for i in range(cfg.num_layers)
    ]
    embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
    head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
    if cfg.tie_embeddings:
        head.weight = embed.weight
    return nn.ModuleList([embed, *layers, nn.RMSNorm(cfg.hidden_size), head])


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())  # shared (tied) tensors are counted once


TINY = {
    "mha": LLMConfig(50, 16, 2, 4, 4, 40),
    "gqa_bias_tied": LLMConfig(37, 24, 3, 6, 2, 56, tie_embeddings=True, qkv_bias=True),
    "head_dim": LLMConfig(30, 16, 2, 4, 2, 24, head_dim=6),
    "moe_mla": LLMConfig(
        40,
        16,
        3,
        4,
        4,
        48,
        num_experts=5,
        experts_per_token=2,
        num_shared_experts=2,
        moe_intermediate_size=8,
        first_dense_layers=1,
        kv_lora_rank=6,
        qk_nope_head_dim=4,
        qk_rope_head_dim=2,
        v_head_dim=3,
    ),
    "moe_mla_qlora": LLMConfig(
        40,
        16,
        2,
        4,
        4,
        48,
        num_experts=4,
        experts_per_token=1,
        num_shared_experts=1,
        moe_intermediate_size=8,
        first_dense_layers=0,
        q_lora_rank=5,
        kv_lora_rank=6,
        qk_nope_head_dim=4,
        qk_rope_head_dim=2,
        v_head_dim=3,
    ),
}


@pytest.mark.parametrize("name", list(TINY))
def test_counts_equal_a_real_module_stack(name):
    cfg = TINY[name]
    assert parameter_breakdown(cfg)["total"] == _numel(_reference_model(cfg))
    assert parameter_breakdown(cfg, active=True)["total"] == _numel(_reference_model(cfg, active=True))
    assert parameter_breakdown(cfg) == parameter_breakdown(cfg, active=False)  # default: all experts


def test_breakdown_parts_sum_and_tied_head_is_free():
    cfg = TINY["gqa_bias_tied"]
    parts = parameter_breakdown(cfg)
    assert parts["output_head"] == 0 and parts["input_embedding"] == 37 * 24
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    untied = parameter_breakdown(dataclasses.replace(cfg, tie_embeddings=False))
    assert untied["total"] - parts["total"] == 37 * 24


def test_dense_layers_before_moe_and_active_experts():
    cfg = TINY["moe_mla"]
    assert ffn_params(cfg, 0) == 3 * 16 * 48  # first_dense_layers = 1
    assert ffn_params(cfg, 1) == 16 * 5 + 3 * 16 * 8 * (2 + 5)
    assert ffn_params(cfg, 1, active=True) == 16 * 5 + 3 * 16 * 8 * (2 + 2)


@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [
        ("LLaMA-2-7B", 6.74e9, 0.005e9),  # LLaMA Table 2: 6.7B for this shape; 6,738,415,616 exactly
        ("Qwen2-7B", 7.6e9, 0.05e9),
        ("DeepSeek-V2-Lite", 15.7e9, 0.05e9),  # DeepSeek-V2 report, Appendix B
        ("DeepSeek-V2", 236e9, 0.5e9),  # DeepSeek-V2 report, abstract
    ],
)
def test_published_totals(name, published, tolerance):
    assert abs(parameter_breakdown(CONFIGS[name])["total"] - published) < tolerance


def test_llama2_7b_exact_and_deepseek_active():
    assert parameter_breakdown(CONFIGS["LLaMA-2-7B"])["total"] == 6_738_415_616
    # Reported activated parameters: 2.4B (Lite) and 21B; both match when the input embedding is left out.
    for name, published, tol in [("DeepSeek-V2-Lite", 2.4e9, 0.06e9), ("DeepSeek-V2", 21e9, 0.5e9)]:
        active = parameter_breakdown(CONFIGS[name], active=True)
        assert abs(active["total"] - active["input_embedding"] - published) < tol


def test_kv_cache_reuses_scaling():
    llama = CONFIGS["LLaMA-2-7B"]
    assert kv_cache_bytes(llama) == kv_cache_bytes_per_token(32, 32, 128) == 512 * 1024
    assert kv_cache_bytes(llama) == kv_cache_bytes(llama, bytes_per_value=2)  # default: bf16
    assert kv_cache_bytes(CONFIGS["Qwen2-7B"], bytes_per_value=1) == 2 * 28 * 4 * 128
    assert kv_cache_bytes(CONFIGS["DeepSeek-V2-Lite"]) == mla_kv_cache_bytes_per_token(27, 512, 64) == 31104
    assert kv_cache_bytes(TINY["head_dim"]) == 2 * 2 * 2 * 6 * 2


def test_head_size_and_bad_configs():
    assert head_size(TINY["mha"]) == 4 and head_size(TINY["head_dim"]) == 6
    with pytest.raises(ValueError, match="hidden_size must be divisible by num_heads"):
        head_size(LLMConfig(10, 10, 1, 3, 3, 8))
    with pytest.raises(ValueError, match="num_heads must be divisible by num_kv_heads"):
        attention_params(LLMConfig(10, 12, 1, 4, 3, 8))
    # Valid edges: MQA (one KV head) and H = H_kv.
    assert attention_params(LLMConfig(10, 12, 1, 4, 1, 8)) == 2 * 12 * 12 + 2 * 12 * 3
    assert attention_params(LLMConfig(10, 12, 1, 4, 4, 8)) == 4 * 12 * 12

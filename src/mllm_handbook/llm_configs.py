r"""Parameter and KV-cache counts of decoder-only LLMs from their released configs.

A LLaMA-style decoder layer is pre-norm attention plus a SwiGLU feed-forward network (FFN), with an RMSNorm
before each. The counter below covers the choices that separate the open families:

* attention: multi-head, grouped-query (``num_kv_heads < num_heads``; Ainslie et al., 2023) or DeepSeek-V2's
  multi-head latent attention (MLA, ``kv_lora_rank > 0``; arXiv 2405.04434), with or without a QKV bias
  (Qwen, Qwen2);
* FFN: dense SwiGLU (three matrices), or a DeepSeekMoE layer with routed and shared experts after
  ``first_dense_layers`` dense layers (Dai et al., 2024);
* tied or untied input embedding and output head.

The ``CONFIGS`` entries copy the fields of each model's released ``config.json`` (Hugging Face names in
the comments); see each entry for its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from mllm_handbook._checks import check
from mllm_handbook.scaling import kv_cache_bytes_per_token, mla_kv_cache_bytes_per_token


@dataclass(frozen=True)
class LLMConfig:
    """The fields of a decoder-only LLM's config that determine its parameter count and KV cache.

    Attributes:
        vocab_size: embedding rows (``vocab_size``; often padded above the tokenizer's vocabulary).
        hidden_size: model width $d$ (``hidden_size``).
        num_layers: decoder layers $L$ (``num_hidden_layers``).
        num_heads: query heads $H$ (``num_attention_heads``).
        num_kv_heads: key/value heads $H_{kv}$ (``num_key_value_heads``); $H$ for MHA, 1 for MQA.
        intermediate_size: SwiGLU width of a dense FFN (``intermediate_size``).
        head_dim: per-head width; ``None`` means $d / H$.
        tie_embeddings: output head shares the input embedding (``tie_word_embeddings``).
        qkv_bias: the Q, K, V projections have biases (Qwen, Qwen2).
        num_experts: routed experts per MoE layer (``n_routed_experts``); 0 for a dense model.
        experts_per_token: routed experts each token uses (``num_experts_per_tok``).
        num_shared_experts: always-on experts (``n_shared_experts``).
        moe_intermediate_size: SwiGLU width of one expert (``moe_intermediate_size``).
        first_dense_layers: leading layers that keep a dense FFN (``first_k_dense_replace``).
        q_lora_rank: MLA query compression rank $d_c'$; ``None`` = full-rank query projection.
        kv_lora_rank: MLA key/value latent width $d_c$; 0 = standard attention.
        qk_nope_head_dim: MLA per-head query/key width without RoPE $d_h$.
        qk_rope_head_dim: MLA decoupled RoPE width $d_h^R$ (query per head, key shared).
        v_head_dim: MLA per-head value width.
    """

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    head_dim: int | None = None
    tie_embeddings: bool = False
    qkv_bias: bool = False
    num_experts: int = 0
    experts_per_token: int = 0
    num_shared_experts: int = 0
    moe_intermediate_size: int = 0
    first_dense_layers: int = 0
    q_lora_rank: int | None = None
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0


def head_size(cfg: LLMConfig) -> int:
    """Per-head width: ``head_dim`` if given, else $d / H$ (which must then divide evenly)."""
    if cfg.head_dim is not None:
        return cfg.head_dim
    check(cfg.hidden_size % cfg.num_heads == 0, "hidden_size must be divisible by num_heads")
    return cfg.hidden_size // cfg.num_heads


def attention_params(cfg: LLMConfig) -> int:
    r"""Parameters of one attention block (MHA/GQA, or MLA when ``kv_lora_rank > 0``).

    MHA/GQA: $W_Q, W_O$ are $d \times H d_h$, $W_K, W_V$ are $d \times H_{kv} d_h$, plus optional QKV biases:

    $$P = 2 d H d_h + 2 d H_{kv} d_h + [\text{bias}]\,(H + 2 H_{kv}) d_h$$

    MLA (DeepSeek-V2, §2.1): queries $d \to d_c' \to H(d_h + d_h^R)$ (or $d \to H(d_h + d_h^R)$ without
    compression), $d \to d_c + d_h^R$ for the latent and the shared RoPE key, $d_c \to H(d_h + d_v)$ for
    keys and values, $H d_v \to d$ for the output, plus an RMSNorm on each latent.

    Returns:
        Parameter count.
    """
    check(cfg.num_heads % cfg.num_kv_heads == 0, "num_heads must be divisible by num_kv_heads")
    d, h = cfg.hidden_size, cfg.num_heads
    if cfg.kv_lora_rank == 0:
        dh = head_size(cfg)
        bias = (h + 2 * cfg.num_kv_heads) * dh if cfg.qkv_bias else 0
        return 2 * d * h * dh + 2 * d * cfg.num_kv_heads * dh + bias
    q_width = h * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim)
    rq = cfg.q_lora_rank
    q = d * q_width if rq is None else d * rq + rq + rq * q_width
    kv = d * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) + cfg.kv_lora_rank
    kv += cfg.kv_lora_rank * h * (cfg.qk_nope_head_dim + cfg.v_head_dim)
    return q + kv + h * cfg.v_head_dim * d


def ffn_params(cfg: LLMConfig, layer: int, active: bool = False) -> int:
    r"""Parameters of layer ``layer``'s FFN: dense SwiGLU, or a MoE layer (all experts, or the active ones).

    A SwiGLU FFN of width $m$ has three $d \times m$ matrices, $3dm$. A DeepSeekMoE layer has a router
    $d \times E$, $N_s$ shared experts and $E$ routed experts of width $m_e$; a token uses the shared ones
    and $k$ routed ones:

    $$P_{\text{total}} = dE + 3 d m_e (N_s + E),\qquad P_{\text{active}} = dE + 3 d m_e (N_s + k)$$

    Args:
        cfg: the model config.
        layer: layer index, from 0.
        active: count only what one token uses.

    Returns:
        Parameter count.
    """
    d = cfg.hidden_size
    if cfg.num_experts == 0 or layer < cfg.first_dense_layers:
        return 3 * d * cfg.intermediate_size
    experts = cfg.experts_per_token if active else cfg.num_experts
    return d * cfg.num_experts + 3 * d * cfg.moe_intermediate_size * (cfg.num_shared_experts + experts)


def parameter_breakdown(cfg: LLMConfig, active: bool = False) -> dict[str, int]:
    r"""Parameters by part: input embedding, output head, attention, FFN and norms (all layers).

    $$P = V d\,(2 - [\text{tied}]) + \sum_{\ell=1}^{L}\big(P_{\text{attn}} + P_{\text{FFN}}^{(\ell)} + 2d\big) + d$$

    The $2d$ per layer are the two RMSNorm gains and the last $d$ is the final norm.

    Args:
        cfg: the model config.
        active: count only the routed experts one token uses (MoE).

    Returns:
        ``{"input_embedding", "output_head", "attention", "ffn", "norms", "total"}``.
    """
    parts = {
        "input_embedding": cfg.vocab_size * cfg.hidden_size,
        "output_head": 0 if cfg.tie_embeddings else cfg.vocab_size * cfg.hidden_size,
        "attention": cfg.num_layers * attention_params(cfg),
        "ffn": sum(ffn_params(cfg, layer, active) for layer in range(cfg.num_layers)),
        "norms": (2 * cfg.num_layers + 1) * cfg.hidden_size,
    }
    parts["total"] = sum(parts.values())
    return parts


def kv_cache_bytes(cfg: LLMConfig, bytes_per_value: int = 2) -> int:
    r"""KV-cache bytes per token of context, via :mod:`mllm_handbook.scaling`.

    $2 L H_{kv} d_h b$ for MHA/GQA (:func:`~mllm_handbook.scaling.kv_cache_bytes_per_token`);
    $L (d_c + d_h^R) b$ for MLA (:func:`~mllm_handbook.scaling.mla_kv_cache_bytes_per_token`).

    Args:
        cfg: the model config.
        bytes_per_value: $b$, 2 for bf16/fp16.

    Returns:
        Bytes per token.
    """
    if cfg.kv_lora_rank > 0:
        return mla_kv_cache_bytes_per_token(
            cfg.num_layers, cfg.kv_lora_rank, cfg.qk_rope_head_dim, bytes_per_value
        )
    return kv_cache_bytes_per_token(cfg.num_layers, cfg.num_kv_heads, head_size(cfg), bytes_per_value)


#: Released configs (Hugging Face ``config.json`` of each repository, cross-checked with the reports).
CONFIGS: dict[str, LLMConfig] = {
    # meta-llama/Llama-2-7b-hf; Touvron et al. 2023 (arXiv 2307.09288): MHA at 7B, GQA only at 34B/70B.
    "LLaMA-2-7B": LLMConfig(32000, 4096, 32, 32, 32, 11008),
    # meta-llama/Meta-Llama-3-8B; Llama 3 report (arXiv 2407.21783) Table 3: 8 KV heads, 128K vocabulary.
    "Llama-3-8B": LLMConfig(128256, 4096, 32, 32, 8, 14336),
    # Qwen/Qwen-7B (Qwen report, arXiv 2309.16609): MHA, QKV bias, untied. Its config says
    # intermediate_size 22016; Qwen's modeling code gives each SwiGLU matrix half of it, 11008.
    "Qwen-7B": LLMConfig(151936, 4096, 32, 32, 32, 11008, qkv_bias=True),
    # Qwen/Qwen2-0.5B and Qwen/Qwen2-7B; Qwen2 report (arXiv 2407.10671) Table 1.
    "Qwen2-0.5B": LLMConfig(151936, 896, 24, 14, 2, 4864, tie_embeddings=True, qkv_bias=True),
    "Qwen2-7B": LLMConfig(152064, 3584, 28, 28, 4, 18944, qkv_bias=True),
    # deepseek-ai/DeepSeek-V2-Lite; DeepSeek-V2 report (arXiv 2405.04434) Appendix B: no query compression.
    "DeepSeek-V2-Lite": LLMConfig(
        102400,
        2048,
        27,
        16,
        16,
        10944,
        num_experts=64,
        experts_per_token=6,
        num_shared_experts=2,
        moe_intermediate_size=1408,
        first_dense_layers=1,
        kv_lora_rank=512,
        qk_nope_head_dim=128,
        qk_rope_head_dim=64,
        v_head_dim=128,
    ),
    # deepseek-ai/DeepSeek-V2; DeepSeek-V2 report §3.1.2.
    "DeepSeek-V2": LLMConfig(
        102400,
        5120,
        60,
        128,
        128,
        12288,
        num_experts=160,
        experts_per_token=6,
        num_shared_experts=2,
        moe_intermediate_size=1536,
        first_dense_layers=1,
        q_lora_rank=1536,
        kv_lora_rank=512,
        qk_nope_head_dim=128,
        qk_rope_head_dim=64,
        v_head_dim=128,
    ),
}

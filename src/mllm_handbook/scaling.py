r"""Back-of-the-envelope training cost: FLOPs ($C \approx 6ND$), compute-optimal sizes, and memory per parameter.

* $C \approx 6ND$ (Kaplan et al., 2020; arXiv 2001.08361): about 2 FLOPs per parameter per token for the
  forward pass and 4 for the backward pass; attention over the context adds a small extra term.
* Chinchilla (Hoffmann et al., 2022; arXiv 2203.15556): at a fixed budget, scale parameters and tokens
  about equally; their fits give roughly 20 training tokens per parameter.
* Memory of the model states under Adam (Rajbhandari et al., 2019, ZeRO; arXiv 1910.02054).
"""

from __future__ import annotations

import math

from mllm_handbook._checks import check

#: Bytes per parameter of the *model states* (weights, gradients, optimiser) when training with Adam.
#: Mixed precision: fp16 weights (2) + fp16 gradients (2) + fp32 master weights, momentum and variance (12).
ADAM_BYTES_PER_PARAM = {"fp32": 4 + 4 + 8, "mixed": 2 + 2 + 12}

#: Bytes per parameter to hold the weights alone (inference).
WEIGHT_BYTES_PER_PARAM = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}


def training_flops(n_params: float, n_tokens: float) -> float:
    r"""Training compute of a dense Transformer, $C \approx 6ND$ FLOPs (Kaplan et al., 2020, §2.1).

    Args:
        n_params: $N$, non-embedding parameters.
        n_tokens: $D$, training tokens.

    Returns:
        FLOPs.
    """
    check(n_params > 0 and n_tokens > 0, f"n_params and n_tokens must be > 0, got {n_params}, {n_tokens}")
    return 6.0 * n_params * n_tokens


def compute_optimal_size(flops: float, tokens_per_param: float = 20.0) -> tuple[float, float]:
    r"""Parameters and tokens that spend ``flops`` with a fixed tokens-per-parameter ratio $k$.

    $$C = 6ND,\ D = kN \ \Rightarrow\ N = \sqrt{\frac{C}{6k}},\quad D = kN$$

    $k \approx 20$ is the rule of thumb read off Chinchilla's fits (Hoffmann et al., 2022).

    Args:
        flops: compute budget $C$.
        tokens_per_param: $k$.

    Returns:
        ``(N, D)``.
    """
    check(flops > 0 and tokens_per_param > 0, "flops and tokens_per_param must be > 0")
    n = math.sqrt(flops / (6.0 * tokens_per_param))
    return n, tokens_per_param * n


def zero_bytes_per_param(stage: int, num_gpus: int) -> float:
    r"""Per-GPU bytes per parameter of mixed-precision Adam under ZeRO-DP (Rajbhandari et al., 2019, §5).

    With $N_d$ data-parallel GPUs and $K = 12$ bytes of optimiser state:
    stage 0 (plain data parallel) $2 + 2 + K$; stage 1 shards the optimiser state, $2 + 2 + K/N_d$;
    stage 2 also the gradients, $2 + (2 + K)/N_d$; stage 3 also the weights, $(2 + 2 + K)/N_d$.

    Args:
        stage: 0, 1, 2 or 3.
        num_gpus: $N_d \ge 1$.

    Returns:
        Bytes per parameter on each GPU.
    """
    check(stage in (0, 1, 2, 3), f"stage must be 0, 1, 2 or 3, got {stage}")
    check(num_gpus >= 1, f"num_gpus must be >= 1, got {num_gpus}")
    weights, grads, optim = 2.0, 2.0, 12.0
    sharded = [0.0, optim, grads + optim, weights + grads + optim][stage]
    return weights + grads + optim - sharded + sharded / num_gpus


def kv_cache_bytes_per_token(
    num_layers: int, num_kv_heads: int, head_dim: int, bytes_per_value: int = 2
) -> int:
    r"""KV-cache bytes one token adds: a key and a value per layer and KV head.

    $$\text{bytes} = 2 \cdot L \cdot H_{kv} \cdot d_{head} \cdot b$$

    $H_{kv} = H$ for multi-head attention, $1$ for multi-query attention (Shazeer, 2019) and the number of
    groups for grouped-query attention (Ainslie et al., 2023); $b = 2$ for fp16/bf16.

    Args:
        num_layers: $L$.
        num_kv_heads: $H_{kv}$.
        head_dim: $d_{head}$.
        bytes_per_value: $b$.

    Returns:
        Bytes per token of context.
    """
    return 2 * num_layers * num_kv_heads * head_dim * bytes_per_value


def mla_kv_cache_bytes_per_token(
    num_layers: int, kv_lora_rank: int, rope_head_dim: int, bytes_per_value: int = 2
) -> int:
    r"""KV-cache bytes per token of multi-head latent attention (DeepSeek-V2, arXiv 2405.04434, §2.1).

    MLA caches one compressed latent $c^{KV}$ of width $d_c$ and one decoupled RoPE key of width $d^R_h$
    per layer, shared by all heads:

    $$\text{bytes} = L \cdot (d_c + d^R_h) \cdot b$$

    Args:
        num_layers: $L$.
        kv_lora_rank: $d_c$ (512 in DeepSeek-V2).
        rope_head_dim: $d^R_h$ (64 in DeepSeek-V2).
        bytes_per_value: $b$.

    Returns:
        Bytes per token of context.
    """
    return num_layers * (kv_lora_rank + rope_head_dim) * bytes_per_value

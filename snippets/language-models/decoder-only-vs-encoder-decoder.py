"""Parameters, FLOPs, KV cache: L+L encoder-decoder vs 2L-layer decoder-only."""

import torch
from torch import nn

from mllm_handbook.attention import scaled_dot_product_attention
from mllm_handbook.masks import causal_mask

d, ff, L = 64, 256, 2  # width, FFN width, layers per stack
n_in = n_out = 32  # input (prompt) and output (target) lengths


def weights_per_layer(cross: bool) -> int:
    """Weight-matrix entries of one layer: Q,K,V,O (4 d^2) + FFN (2 d ff)
    [+ cross-attention Q,K,V,O]."""
    return 4 * d * d + 2 * d * ff + (4 * d * d if cross else 0)


# 1. The analytic count equals the weight matrices of PyTorch's own layers
#    (biases and norms left out).
def matrix_entries(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.dim() == 2)


encoder_layer = nn.TransformerEncoderLayer(d, 4, ff)
decoder_layer = nn.TransformerDecoderLayer(d, 4, ff)
assert matrix_entries(encoder_layer) == weights_per_layer(cross=False)
assert matrix_entries(decoder_layer) == weights_per_layer(cross=True)


def matmul_flops(weights: int, tokens: int) -> int:
    """2 FLOPs (multiply + add) per weight per token; attention scores
    (QK^T, AV) are left out."""
    return 2 * weights * tokens


# T5 §3.2.2: an encoder-decoder with L + L layers vs a decoder-only model
# with 2L layers, where every layer processes input AND output tokens.
plain = weights_per_layer(cross=False)
decoder_only = {
    "params": 2 * L * plain,
    "flops": 2 * L * matmul_flops(plain, n_in + n_out),
}
cross_in = cross_out = 2 * d * d  # cross K,V on encoder states; Q,O on decoder
rows = []
for name, extra in [
    ("ignoring cross-attn (T5's approximation)", False),
    ("counting cross-attn", True),
]:
    cross_flops = matmul_flops(cross_in, n_in) + matmul_flops(cross_out, n_out)
    enc_dec = {
        "params": L * plain + L * weights_per_layer(cross=extra),
        "flops": L * matmul_flops(plain, n_in)  # encoder: only the input
        + L * matmul_flops(plain, n_out)  # decoder: only the output ...
        + (L * cross_flops if extra else 0),  # ... reading the input
    }
    params = enc_dec["params"] / decoder_only["params"]
    flops = decoder_only["flops"] / enc_dec["flops"]
    rows.append((params, flops))
    print(
        f"{name:<42} params enc-dec / dec-only = {params:.2f}   "
        f"FLOPs dec-only / enc-dec = {flops:.2f}"
    )
assert rows[0] == (1.0, 2.0)  # T5 §3.2.2: same parameters, half the compute
assert 1.0 < rows[1][0] < 1.2 and 1.6 < rows[1][1] < 2.0

# 2. KV cache in a decoder-only layer: prefill the prompt once, then decode
#    one token per step.
torch.manual_seed(0)
w_q, w_k, w_v = (torch.randn(d, d) / d**0.5 for _ in range(3))
x = torch.randn(1, n_in + 3, d)  # prompt + 3 generated tokens' embeddings
# Recompute everything:
full = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)

# Prefill: one parallel pass over the n_in prompt tokens.
prompt = x[:, :n_in]
k_cache, v_cache = prompt @ w_k, prompt @ w_v
q = prompt @ w_q
outputs = [scaled_dot_product_attention(q, k_cache, v_cache, causal_mask(n_in))]
# Decode: 1 query row per step against the growing cache.
for t in range(n_in, n_in + 3):
    new = x[:, t : t + 1]
    k_cache = torch.cat([k_cache, new @ w_k], 1)
    v_cache = torch.cat([v_cache, new @ w_v], 1)
    outputs.append(scaled_dot_product_attention(new @ w_q, k_cache, v_cache))
    step = t - n_in + 1
    print(f"decode step {step}: query rows 1, cached keys {k_cache.shape[1]}")
assert torch.allclose(torch.cat(outputs, 1), full, atol=1e-5)
print("prefill + cached decode == full causal recompute: OK")

# 3. Cache entries (keys + values, per position per layer) at the end of
#    generation, with the same 2L total depth. Decoder-only: every layer
#    caches prompt and output. Encoder-decoder: its L decoder layers cache
#    cross-attention K,V of the input and self-attention K,V of the output.
dec_only_cache = 2 * L * (n_in + n_out)
enc_dec_cache = L * n_in + L * n_out
print(
    f"cached positions x layers: decoder-only {dec_only_cache}, "
    f"encoder-decoder {enc_dec_cache}"
)
assert dec_only_cache == 2 * enc_dec_cache

"""Linear attention and SSMs as recurrences with a fixed-size decoding state."""

import torch

from mllm_handbook.scaling import kv_cache_bytes_per_token
from mllm_handbook.ssm import (
    causal_linear_attention,
    linear_attention_recurrent,
    mamba_discretize,
    mamba_state_bytes,
    ssm_convolution,
    ssm_kernel,
    ssm_scan,
)

torch.manual_seed(0)
dt = torch.float64

# 1. Causal linear attention: parallel form (an L x L matrix) == recurrence.
q, k = torch.randn(2, 2, 2, 7, 4, dtype=dt)  # [batch, heads, L, d_k]
v = torch.randn(2, 2, 7, 5, dtype=dt)
y_parallel = causal_linear_attention(q, k, v)
y_recurrent, S, z = linear_attention_recurrent(q, k, v)
assert torch.allclose(y_parallel, y_recurrent)
print(f"linear attention, parallel == recurrent: OK; state S {list(S.shape)}")

# 2. A diagonal linear SSM: the recurrence == a causal convolution.
D, N, L = 3, 4, 9  # channels, state size, length
A = 0.05 + 0.9 * torch.rand(D, N, dtype=dt)  # 0 < A < 1: a decaying memory
B, C = torch.randn(2, D, N, dtype=dt)
x = torch.randn(2, L, D, dtype=dt)
assert torch.allclose(ssm_scan(x, A, B, C), ssm_convolution(x, A, B, C))
kernel = ssm_kernel(A, B, C, L)[0]
print("SSM scan == causal conv with K_i = sum_n C A^i B: OK")
print("kernel of channel 0:", [round(c, 3) for c in kernel[:5].tolist()])


def impulse_responses(A_bar, B_bar, C_t, length):
    """Column s: the output when only x_s = 1 (fixed A, B, C per step)."""
    columns = []
    for s in range(length):
        e = torch.zeros(A_bar.shape[0], length, A_bar.shape[-2], dtype=dt)
        e[:, s] = 1.0
        columns.append(ssm_scan(e, A_bar, B_bar, C_t)[0, :, 0])
    return torch.stack(columns, dim=1)  # [t, s] of channel 0


def is_toeplitz(M):
    """Does M[t, s] depend only on t - s?"""
    return all(
        torch.allclose(M[1:, 1:].diagonal(i), M[:-1, :-1].diagonal(i))
        for i in range(-M.shape[0] + 1, M.shape[0])
    )


M_lti = impulse_responses(A, B, C, L)
assert is_toeplitz(M_lti)

# 3. Mamba: Delta_t, B_t, C_t are computed from x_t (selection).
W_delta, W_B, W_C = torch.randn(D, D, dtype=dt), *torch.randn(2, D, N, dtype=dt)
A_cont = -torch.arange(1, N + 1, dtype=dt).expand(D, N)  # S4D-real init


def selective_params(x):
    delta = torch.nn.functional.softplus(x @ W_delta)  # [batch, L, D]
    return mamba_discretize(delta, A_cont, x @ W_B, x @ W_C)


M_a = impulse_responses(*selective_params(x[:1]), L)
M_b = impulse_responses(*selective_params(x[1:]), L)
assert not is_toeplitz(M_a)  # weights depend on t and s, not just t - s
assert not torch.allclose(M_a, M_b)  # ... and on the input itself
print("selective SSM: input-dependent, non-Toeplitz mixing -> no fixed kernel")

# 4. Decoding memory: a KV cache grows with the context; the states do not.
# Pythia-2.8B: 32 layers, 32 heads of width 80; Mamba-2.8B: 64 blocks,
# d_inner = 2 * 2560, N = 16, conv width 4 (bf16 everywhere).
kv = kv_cache_bytes_per_token(num_layers=32, num_kv_heads=32, head_dim=80)
linear_state = 32 * 32 * 80 * (80 + 1) * 2  # same shape, linear attention:
# S (d_k x d_v) and z (d_k) per head and layer
mamba = mamba_state_bytes(num_layers=64, d_inner=5120)
MiB = 2**20
print(" context | KV cache (Pythia) | linear attn state | Mamba state")
for T in (1, 1024, 8192, 65536):
    print(
        f" {T:>7} | {kv * T / MiB:>13.1f} MiB | {linear_state / MiB:>13.1f} MiB"
        f" | {mamba / MiB:>7.1f} MiB"
    )
print(f"Mamba state = KV cache of {mamba / kv:.0f} tokens")
assert kv == 327_680 and mamba == 13_107_200 and mamba / kv == 40
assert 40 < linear_state / kv < 41  # break-even near head_dim / 2 tokens
assert kv * 65536 == 20 * 2**30  # 20 GiB per sequence at 64K tokens
assert (round(linear_state / MiB, 1), round(mamba / MiB, 1)) == (12.7, 12.5)

# 5. A hybrid keeps a few attention layers: Jamba-v0.1 has 1 in 8 of its 32
# layers; Mixtral-8x7B has 32. Both use 8 KV heads of width 128.
jamba = kv_cache_bytes_per_token(num_layers=4, num_kv_heads=8, head_dim=128)
mixtral = kv_cache_bytes_per_token(num_layers=32, num_kv_heads=8, head_dim=128)
GiB, T = 2**30, 256 * 1024
print(
    f"KV cache at 256K tokens: Mixtral {mixtral * T / GiB:.0f} GiB, "
    f"Jamba {jamba * T / GiB:.0f} GiB"
)
assert (mixtral * T, jamba * T) == (32 * GiB, 4 * GiB)

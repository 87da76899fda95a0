"""KV cache = full recomputation; KV-cache memory; per-channel int8 vs torch.quantize_per_channel; distillation (page: efficiency/inference-and-compression)."""

import warnings

import torch
import torch.nn.functional as F

from mllm_handbook.compression import (
    causal_self_attention,
    dequantize_per_channel,
    kv_cache_bytes,
    kv_cache_step,
    quantize_per_channel_int8,
)
from mllm_handbook.figures import new_figure, show
from mllm_handbook.losses import distillation_loss

torch.manual_seed(0)

# 1. Decoding with a KV cache gives exactly the outputs of recomputing the whole prefix every step.
x = torch.randn(1, 12, 16)
w_q, w_k, w_v = (torch.randn(16, 8) / 4 for _ in range(3))
cache, steps = None, []
for t in range(x.shape[1]):
    out, cache = kv_cache_step(x[:, t : t + 1], w_q, w_k, w_v, cache)
    steps.append(out)
full = causal_self_attention(x, w_q, w_k, w_v)
assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-6)
n = x.shape[1]
print(f"KV-cache decoding == full recomputation over {n} steps: OK")
print(
    f"K/V projections computed: {n} with the cache vs {n * (n + 1) // 2} without"
)

# 2. The price is memory: 2 (K and V) x layers x KV heads x head dim x tokens x bytes.
cache_gib = {}
for name, kv_heads in [("MHA, 32 KV heads", 32), ("GQA, 8 KV heads", 8)]:
    gib = (
        kv_cache_bytes(32, kv_heads, 128, 4096, batch=1, bytes_per_value=2)
        / 2**30
    )
    print(f"32 layers, {name}, 4096 tokens, fp16: {gib:.2f} GiB per sequence")
    cache_gib[kv_heads] = gib
assert cache_gib == {32: 2.0, 8: 0.5}  # LLaMA-2-7B shape: 2 GiB; GQA-8: 1/4

# 3. Int8 weights: one scale per output channel (rows) vs one scale for the whole tensor.
w = torch.randn(8, 64) * 0.02
w[3] *= (
    20  # one channel with a much larger range, as LLM weight/activation outliers have
)
q, scale = quantize_per_channel_int8(w, axis=0)
with (
    warnings.catch_warnings()
):  # PyTorch marks its quantized tensor type as deprecated
    warnings.simplefilter("ignore", UserWarning)
    reference = torch.quantize_per_channel(
        w, scale.double(), torch.zeros(8, dtype=torch.long), 0, torch.qint8
    )
assert torch.equal(q, reference.int_repr())
assert torch.allclose(dequantize_per_channel(q, scale), reference.dequantize())
print(
    "quantize_per_channel_int8 == torch.quantize_per_channel (int values and dequantised): OK"
)
q_t, scale_t = quantize_per_channel_int8(
    w.reshape(1, -1), axis=0
)  # one channel = per-tensor
per_tensor = dequantize_per_channel(q_t, scale_t).reshape(w.shape)
per_channel = dequantize_per_channel(q, scale)
err_tensor = (per_tensor - w).abs().mean(dim=1)
err_channel = (per_channel - w).abs().mean(dim=1)
print("row | per-tensor mean |err| | per-channel mean |err|")
for row in range(8):
    print(f"{row:>3} | {err_tensor[row]:>21.2e} | {err_channel[row]:>22.2e}")
assert err_channel.mean() < err_tensor.mean()
print(
    f"memory: {w.numel() * 4} bytes fp32 -> {q.numel() + scale.numel() * 4} bytes int8 + scales"
)

fig, ax = new_figure(5.0, 2.6)
rows = list(range(8))
ax.bar(
    [r - 0.2 for r in rows],
    err_tensor.tolist(),
    width=0.4,
    label="per-tensor scale",
)
ax.bar(
    [r + 0.2 for r in rows],
    err_channel.tolist(),
    width=0.4,
    label="per-channel scales",
)
ax.set_yscale("log")
ax.set_xlabel("output channel (row 3 has a 20x larger range)")
ax.set_ylabel("mean |W - dequant(q)|")
ax.set_ylim(top=3e-2)  # room for the legend
ax.legend(frameon=False, fontsize=8, ncols=2, loc="upper center")
show(
    fig,
    alt="Int8 rounding error per output channel: one shared scale gives every ordinary row a large error; per-channel scales keep it small.",
)

# 4. Distillation: T^2 * KL(teacher_T || student_T) equals PyTorch's kl_div, scaled.
student, teacher = torch.randn(4, 10), torch.randn(4, 10) * 3
for temperature in (1.0, 2.0, 4.0):
    ours = distillation_loss(student, teacher, temperature)
    builtin = temperature**2 * F.kl_div(
        F.log_softmax(student / temperature, -1),
        F.log_softmax(teacher / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )
    assert torch.allclose(ours, builtin)
    top = F.softmax(teacher / temperature, -1).max(-1).values.mean()
    print(
        f"T = {temperature:g}: teacher's mean top probability {top:.3f}, distillation loss {ours:.4f}"
    )

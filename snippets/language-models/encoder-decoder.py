"""Cross-attention: every decoder position reads all encoder states."""

import torch

from mllm_handbook.attention import attention_weights, multi_head_attention
from mllm_handbook.figures import new_figure, show

torch.manual_seed(0)
d, heads = 8, 2
mha = torch.nn.MultiheadAttention(d, heads, bias=False, batch_first=True)
w_in, w_out = mha.in_proj_weight.detach(), mha.out_proj.weight.detach()

encoder_states = torch.randn(1, 7, d)  # H: one vector per source token
decoder_states = torch.randn(1, 4, d)  # S: one per target token so far

# 1. Hand-written cross-attention == nn.MultiheadAttention with the same
#    weights.
ours = multi_head_attention(decoder_states, encoder_states, w_in, w_out, heads)
ref, ref_weights = mha(decoder_states, encoder_states, encoder_states)
assert torch.allclose(ours, ref.detach(), atol=1e-6)
print(
    "multi_head_attention(decoder, encoder) == nn.MultiheadAttention: OK",
    tuple(ours.shape),
)

# 2. The weights of each decoder position spread over all 7 encoder
#    positions and sum to 1.
w_q, w_k, _ = w_in.chunk(3)


def split(x: torch.Tensor) -> torch.Tensor:
    """[1, L, d] -> [1, heads, L, d / heads]"""
    return x.reshape(1, x.shape[1], heads, d // heads).transpose(1, 2)


q, k = split(decoder_states @ w_q.T), split(encoder_states @ w_k.T)
weights = attention_weights(q, k)
# nn.MultiheadAttention returns the weights averaged over the heads.
assert torch.allclose(weights.mean(1), ref_weights.detach(), atol=1e-6)
assert torch.allclose(weights.sum(-1), torch.ones(1, heads, 4))
print(
    "head-0 cross-attention weights "
    "(rows: decoder positions, columns: encoder positions):"
)
for row in weights[0, 0]:
    print("  " + " ".join(f"{x:.2f}" for x in row))

# 3. What the decoder can read grows with the source; an RNN's context
#    vector does not.
gru = torch.nn.GRU(d, d, batch_first=True)
print(
    f"{'source length':>13} | {'cross-attention memory':>22} | "
    f"{'RNN context vector':>18}"
)
for length in (3, 7, 50):
    src = torch.randn(1, length, d)
    _, h_last = gru(src)
    memory, context = str(list(src.shape[1:])), str(list(h_last.shape[2:]))
    print(f"{length:>13} | {memory:>22} | {context:>18}")

# 4. Editing the FIRST source token changes every decoder output: nothing is
#    squeezed out.
edited = encoder_states.clone()
edited[:, 0] += 1.0
out_edited = multi_head_attention(decoder_states, edited, w_in, w_out, heads)
change = (out_edited - ours).abs().amax(-1)
print(
    "max |output change| per decoder position:",
    [f"{x:.3f}" for x in change[0].tolist()],
)
assert torch.all(change > 0)

fig, ax = new_figure(3.6, 2.2)
ax.imshow(weights[0, 0].numpy(), cmap="Blues", vmin=0)
ax.set_xlabel("encoder position (source)")
ax.set_ylabel("decoder position")
ax.set_xticks(range(7))
ax.set_yticks(range(4))
show(
    fig,
    alt="Cross-attention weights of head 0: each of 4 decoder positions "
    "spreads weight over all 7 encoder positions.",
)

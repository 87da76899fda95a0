"""Causal attention and the shifted next-token loss: t never sees after t."""

import torch
import torch.nn.functional as F

from mllm_handbook.attention import (
    attention_weights,
    multi_head_attention,
    scaled_dot_product_attention,
)
from mllm_handbook.masks import causal_mask

torch.manual_seed(0)
V, d, heads, T = 10, 8, 2, 6

# 1. Manual masked softmax == our SDPA == PyTorch's SDPA.
q, k, v = torch.randn(3, 1, heads, T, d // heads).unbind(0)
mask = causal_mask(T)
scores = q @ k.transpose(-2, -1) / (d // heads) ** 0.5
manual = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v
ours = scaled_dot_product_attention(q, k, v, is_causal=True)
builtin = F.scaled_dot_product_attention(q, k, v, is_causal=True)
assert torch.allclose(manual, ours, atol=1e-6)
assert torch.allclose(manual, builtin, atol=1e-6)
print("causal mask (row = query t, column = key j):")
print("\n".join("  " + " ".join(str(int(b)) for b in row) for row in mask))
last_query = attention_weights(q, k, mask)[0, 0, -1]
print(
    "head-0 attention weights of the last query:", last_query.numpy().round(2)
)

# 2. A one-layer toy causal LM: embedding -> causal self-attention -> output
#    head.
emb, head = torch.randn(V, d), torch.randn(V, d) / d**0.5
w_in, w_out = torch.randn(3 * d, d) / d**0.5, torch.randn(d, d) / d**0.5


def toy_lm(ids: torch.Tensor) -> torch.Tensor:
    """[batch, T] token ids -> [batch, T, V] next-token logits."""
    x = emb[ids]
    mask = causal_mask(ids.shape[1])
    x = x + multi_head_attention(x, x, w_in, w_out, heads, mask=mask)
    return x @ head.T


ids = torch.randint(V, (1, T))
logits = toy_lm(ids)

# 3. Teacher forcing: predict token t+1 from positions <= t, all T-1
#    predictions in one pass.
loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
log_probs = torch.log_softmax(logits[:, :-1], -1)
log_p = log_probs.gather(-1, ids[:, 1:, None]).squeeze(-1)
assert torch.allclose(loss, -log_p.mean())
print(f"shifted cross-entropy = -mean log p(x_t+1 | x_<=t) = {loss.item():.4f}")
print(
    f"log p(x_2..x_{T} | x_1) = sum of per-token log-probs "
    f"= {log_p.sum().item():.4f}"
)

# 4. Changing a future token leaves every earlier position's logits unchanged.
t = 3
perturbed = ids.clone()
perturbed[0, t:] = (perturbed[0, t:] + 1) % V
diff = (toy_lm(perturbed) - logits).abs().amax(dim=-1)[0]
print(
    "max |logit change| per position after editing tokens t >= 3:",
    [f"{x:.2f}" for x in diff.tolist()],
)
assert torch.all(diff[:t] == 0) and torch.all(diff[t:] > 0)

r"""Pre-LN and Post-LN Transformer encoder blocks, and their gradients at initialisation.

The two blocks have the same parameters and differ only in where LayerNorm sits relative to the residual
connection (Xiong et al., 2020, Figure 1):

* **Post-LN** (Vaswani et al., 2017; BERT): normalise *after* the residual sum,
  $x_{l+1} = \mathrm{LN}(x_l + F(x_l))$.
* **Pre-LN** (GPT-2, LLaMA with RMSNorm): normalise the *input of the branch*, keep the residual path
  identity, $x_{l+1} = x_l + F(\mathrm{LN}(x_l))$, and add one final LayerNorm after the last block.

:class:`EncoderBlock` reproduces ``torch.nn.TransformerEncoderLayer(norm_first=...)`` (ReLU feed-forward,
no dropout) so the two layouts can be compared weight for weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook._checks import check
from mllm_handbook.attention import merge_heads, scaled_dot_product_attention, split_heads
from mllm_handbook.norms import layer_norm


class EncoderBlock(nn.Module):
    r"""One Transformer encoder block, Pre-LN (``norm_first=True``) or Post-LN (``norm_first=False``).

    $$\text{Post-LN:}\quad h = \mathrm{LN}_1(x + \mathrm{MHA}(x)),\quad y = \mathrm{LN}_2(h + \mathrm{FFN}(h))$$

    $$\text{Pre-LN:}\quad h = x + \mathrm{MHA}(\mathrm{LN}_1(x)),\quad y = h + \mathrm{FFN}(\mathrm{LN}_2(h))$$

    with $\mathrm{FFN}(x) = W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2$ (Vaswani et al., 2017; Xiong et al., 2020).

    Args:
        d_model: model width $d$.
        num_heads: attention heads; must divide ``d_model``.
        d_ff: hidden width of the feed-forward network.
        norm_first: True for Pre-LN, False for Post-LN.
        eps: LayerNorm epsilon.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, norm_first: bool, eps: float = 1e-5):
        super().__init__()
        check(d_model % num_heads == 0, f"num_heads ({num_heads}) must divide d_model ({d_model})")
        self.num_heads, self.norm_first, self.eps = num_heads, norm_first, eps
        self.qkv = nn.Linear(d_model, 3 * d_model)  # rows: W_q, W_k, W_v stacked, as PyTorch's in_proj
        self.out = nn.Linear(d_model, d_model)
        self.ff1, self.ff2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model, eps=eps), nn.LayerNorm(d_model, eps=eps)

    def _ln(self, norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, norm.weight, norm.bias, self.eps)

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.num_heads) for t in self.qkv(x).chunk(3, dim=-1))
        return self.out(merge_heads(scaled_dot_product_attention(q, k, v)))

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff2(torch.relu(self.ff1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[batch, seq, d_model]`` -> ``[batch, seq, d_model]``."""
        check(x.dim() == 3, f"x must be [batch, seq, d_model], got shape {list(x.shape)}")
        if self.norm_first:
            x = x + self._attention(self._ln(self.norm1, x))
            return x + self._ffn(self._ln(self.norm2, x))
        x = self._ln(self.norm1, x + self._attention(x))
        return self._ln(self.norm2, x + self._ffn(x))

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> EncoderBlock:
        """A block with the weights of a ``batch_first`` ``nn.TransformerEncoderLayer`` (ReLU activation)."""
        check(layer.self_attn.batch_first, "the nn.TransformerEncoderLayer must use batch_first=True")
        attn, d_ff = layer.self_attn, layer.linear1.out_features
        block = cls(attn.embed_dim, attn.num_heads, d_ff, layer.norm_first, layer.norm1.eps)
        block.qkv.load_state_dict({"weight": attn.in_proj_weight, "bias": attn.in_proj_bias})
        block.out.load_state_dict(attn.out_proj.state_dict())
        pairs = [(block.ff1, layer.linear1), (block.ff2, layer.linear2)]
        pairs += [(block.norm1, layer.norm1), (block.norm2, layer.norm2)]
        for ours, theirs in pairs:
            ours.load_state_dict(theirs.state_dict())
        return block


def ffn_gradient_norms(
    norm_first: bool,
    num_layers: int,
    d_model: int = 32,
    num_heads: int = 4,
    batch: int = 4,
    seq: int = 16,
    seed: int = 0,
) -> torch.Tensor:
    r"""Gradient norm of each block's $W_2$ (second FFN matrix) at initialisation (Xiong et al., 2020, Fig. 3).

    Builds a stack of :class:`EncoderBlock` with Xavier-initialised weights and zero biases (the paper's
    setting; a final LayerNorm for Pre-LN), feeds random tokens, takes the cross-entropy of a random linear read-out against random labels, and returns
    $\lVert \partial \mathcal{L} / \partial W_2^{(l)} \rVert_F$ for $l = 1, \dots, L$. Xiong et al. prove that
    for Post-LN this norm stays large near the output, independent of depth, while for Pre-LN it
    shrinks like $1/\sqrt{L}$, which is why Post-LN needs learning-rate warm-up.

    Args:
        norm_first: True for Pre-LN, False for Post-LN.
        num_layers: depth $L$.
        d_model: width of the toy stack.
        num_heads: attention heads per block.
        batch: batch size of the random input.
        seq: sequence length of the random input.
        seed: seeds the weights and data, so the result is deterministic.

    Returns:
        ``[num_layers]`` gradient norms, input side first.
    """
    check(num_layers >= 1, f"num_layers must be >= 1, got {num_layers}")
    with torch.random.fork_rng():  # seeded, without touching the caller's random state
        torch.manual_seed(seed)
        blocks = [EncoderBlock(d_model, num_heads, 4 * d_model, norm_first) for _ in range(num_layers)]
        for linear in (m for block in blocks for m in block.modules() if isinstance(m, nn.Linear)):
            nn.init.xavier_normal_(linear.weight)  # Xavier weights, zero biases: the paper's assumption
            nn.init.zeros_(linear.bias)
        head = nn.Linear(d_model, 10)
        x = torch.randn(batch, seq, d_model)
        labels = torch.randint(0, 10, (batch * seq,))
    for block in blocks:
        x = block(x)
    if norm_first:
        x = layer_norm(x)
    F.cross_entropy(head(x).reshape(-1, 10), labels).backward()
    return torch.stack([block.ff2.weight.grad.norm() for block in blocks])

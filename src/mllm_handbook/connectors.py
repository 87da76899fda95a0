r"""Connectors: how vision features reach a language model.

A vision encoder turns an image into ``N`` patch features of width ``d_v``; the language model works on
token embeddings of width ``d``. A connector bridges the two, in one of two places:

* **Input-level** (the LLM reads visual *tokens*): a linear projector (LLaVA), a two-layer MLP (LLaVA-1.5),
  or a query-based resampler (Flamingo's Perceiver Resampler, BLIP-2's Q-Former) that returns a fixed
  number of tokens however many patches come in.
* **Layer-level** (the LLM *cross-attends* to visual features): Flamingo's gated cross-attention blocks,
  inserted between frozen LM layers, with a ``tanh`` gate initialised at 0 so that the model starts out
  as the unchanged language model.

Shapes: patches ``[batch, num_patches, vision_dim]``, text hidden states ``[batch, seq, dim]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook._checks import check


def _check_features(x: torch.Tensor, name: str, width: int) -> None:
    check(x.dim() == 3, f"{name} must have shape [batch, tokens, {width}], got {list(x.shape)}")
    check(x.shape[-1] == width, f"{name} last dim must be {width}, got {x.shape[-1]}")
    check(x.is_floating_point(), f"{name} must be a floating-point tensor, got {x.dtype}")


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Multi-head attention with separate (already projected) keys and values, no mask."""
    batch, q_len, dim = q.shape

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(batch, x.shape[1], num_heads, dim // num_heads).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(batch, q_len, dim)


class LinearProjector(nn.Module):
    r"""LLaVA's connector: one linear map from vision width to LLM width (Liu et al., 2023).

    $$H_v = W Z_v + b$$

    Every patch becomes one LLM token, so the token count equals the patch count.

    Args:
        vision_dim: width $d_v$ of the patch features.
        llm_dim: width $d$ of the LLM's token embeddings.
    """

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.vision_dim = vision_dim
        self.proj = nn.Linear(vision_dim, llm_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``[batch, num_patches, vision_dim]`` → ``[batch, num_patches, llm_dim]``."""
        _check_features(patches, "patches", self.vision_dim)
        return self.proj(patches)


class MLPProjector(nn.Module):
    r"""LLaVA-1.5's connector: a two-layer MLP with a GELU in between (Liu et al., 2023b).

    $$H_v = W_2\, \mathrm{GELU}(W_1 Z_v + b_1) + b_2$$

    Still one token per patch; the extra non-linearity is what LLaVA-1.5 reports as improving over the
    linear projector.

    Args:
        vision_dim: width $d_v$ of the patch features.
        llm_dim: width $d$ of the LLM's token embeddings (also the hidden width, as in LLaVA-1.5).
    """

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.vision_dim = vision_dim
        self.net = nn.Sequential(nn.Linear(vision_dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``[batch, num_patches, vision_dim]`` → ``[batch, num_patches, llm_dim]``."""
        _check_features(patches, "patches", self.vision_dim)
        return self.net(patches)


class QueryResampler(nn.Module):
    r"""Learned queries cross-attend to the patches: a one-layer Perceiver Resampler / Q-Former core.

    $$Q' = Q + \mathrm{Attn}(Q W_q,\ [Z_v; Q] W_k,\ [Z_v; Q] W_v) W_o,\qquad H_v = (Q' + \mathrm{FFW}(Q')) W_{out}$$

    The $M$ queries $Q \in \mathbb{R}^{M \times d_v}$ are parameters, so the output always has $M$ tokens,
    whatever the number of patches $N$ (Flamingo: 64 tokens; BLIP-2: 32). As in Flamingo's Perceiver
    Resampler, the keys and values are the patches concatenated with the queries (Alayrac et al., 2022);
    BLIP-2's Q-Former adds self-attention among the queries and a text branch (Li et al., 2023).

    Args:
        vision_dim: width $d_v$ of the patch features (and of the queries).
        llm_dim: width $d$ of the output tokens.
        num_queries: $M$, the fixed number of output tokens.
        num_heads: attention heads; must divide ``vision_dim``.
    """

    def __init__(self, vision_dim: int, llm_dim: int, num_queries: int, num_heads: int = 1) -> None:
        super().__init__()
        check(num_queries >= 1, f"num_queries must be >= 1, got {num_queries}")
        check(vision_dim % num_heads == 0, f"num_heads={num_heads} must divide vision_dim={vision_dim}")
        self.vision_dim, self.num_heads = vision_dim, num_heads
        self.queries = nn.Parameter(torch.randn(num_queries, vision_dim) * vision_dim**-0.5)
        self.q, self.k, self.v, self.o = (nn.Linear(vision_dim, vision_dim) for _ in range(4))
        self.ffw = nn.Sequential(
            nn.LayerNorm(vision_dim),
            nn.Linear(vision_dim, 4 * vision_dim),
            nn.GELU(),
            nn.Linear(4 * vision_dim, vision_dim),
        )
        self.out = nn.Linear(vision_dim, llm_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """``[batch, num_patches, vision_dim]`` → ``[batch, num_queries, llm_dim]``."""
        _check_features(patches, "patches", self.vision_dim)
        queries = self.queries.expand(patches.shape[0], -1, -1)
        context = torch.cat([patches, queries], dim=1)
        attended = _attend(self.q(queries), self.k(context), self.v(context), self.num_heads)
        latents = queries + self.o(attended)
        latents = latents + self.ffw(latents)
        return self.out(latents)


class GatedCrossAttentionBlock(nn.Module):
    r"""Flamingo's GATED XATTN-DENSE block, inserted before a frozen LM layer (Alayrac et al., 2022).

    $$y = x + \tanh(\alpha_{\mathrm{xattn}})\, \mathrm{Attn}(x W_q,\ Z_v W_k,\ Z_v W_v) W_o$$

    $$x' = y + \tanh(\alpha_{\mathrm{dense}})\, \mathrm{FFW}(y)$$

    Both gates $\alpha$ are scalars initialised at 0, so at initialisation $x' = x$: the LM's hidden
    states, and hence its outputs, are exactly those of the text-only model. Training opens the gates.

    Args:
        dim: width of the LM hidden states.
        vision_dim: width of the visual tokens (e.g. the resampler's output).
        num_heads: attention heads; must divide ``dim``.
    """

    def __init__(self, dim: int, vision_dim: int, num_heads: int = 1) -> None:
        super().__init__()
        check(dim % num_heads == 0, f"num_heads={num_heads} must divide dim={dim}")
        self.dim, self.vision_dim, self.num_heads = dim, vision_dim, num_heads
        self.norm = nn.LayerNorm(dim)
        self.q, self.o = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.k, self.v = nn.Linear(vision_dim, dim), nn.Linear(vision_dim, dim)
        self.ffw = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
        )
        self.alpha_xattn = nn.Parameter(torch.zeros(()))
        self.alpha_dense = nn.Parameter(torch.zeros(()))

    def forward(self, hidden: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """``hidden [batch, seq, dim]``, ``visual [batch, num_visual, vision_dim]`` → ``[batch, seq, dim]``."""
        _check_features(hidden, "hidden", self.dim)
        _check_features(visual, "visual", self.vision_dim)
        check(hidden.shape[0] == visual.shape[0], "hidden and visual must have the same batch size")
        h = self.norm(hidden)
        attended = _attend(self.q(h), self.k(visual), self.v(visual), self.num_heads)
        y = hidden + torch.tanh(self.alpha_xattn) * self.o(attended)
        return y + torch.tanh(self.alpha_dense) * self.ffw(y)

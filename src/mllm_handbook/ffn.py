r"""The Transformer feed-forward network: GELU, Swish/SiLU, and the gated SwiGLU FFN of LLaMA.

* Vaswani et al. (2017): $\mathrm{FFN}(x) = W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2$ with hidden width $4d$.
* GELU (Hendrycks & Gimpel, 2016; arXiv 1606.08415), used by BERT and GPT: $x\,\Phi(x)$.
* Swish / SiLU $x\,\sigma(\beta x)$ (Ramachandran et al., 2017; arXiv 1710.05941).
* GLU variants (Shazeer, 2020; arXiv 2002.05202): multiply an activated projection by a linear one. SwiGLU,
  $W_2(\mathrm{SiLU}(W_1 x) \odot W_3 x)$, is the FFN of PaLM, LLaMA, Mixtral and DeepSeek.

Weight matrices follow ``nn.Linear``: ``W1`` is ``[d_ff, d_model]`` and ``x @ W1.T`` applies it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook._checks import check


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Gaussian error linear unit (Hendrycks & Gimpel, 2016; arXiv 1606.08415).

    $$\mathrm{GELU}(x) = x\,\Phi(x) = \frac{x}{2}\left(1 + \mathrm{erf}\left(\frac{x}{\sqrt 2}\right)\right)$$

    $$\mathrm{GELU}_{\tanh}(x) = \frac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right)$$

    The tanh form is the paper's fast approximation (GPT-2 uses it); both equal ``F.gelu``.

    Args:
        x: any shape.
        approximate: ``"none"`` (exact, erf) or ``"tanh"``, as in ``F.gelu``.

    Returns:
        Same shape as ``x``.
    """
    check(approximate in ("none", "tanh"), f"approximate must be 'none' or 'tanh', got {approximate!r}")
    if approximate == "tanh":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def swish(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    r"""Swish (Ramachandran et al., 2017; arXiv 1710.05941); with $\beta = 1$ it is SiLU (``F.silu``).

    $$\mathrm{Swish}_\beta(x) = x\,\sigma(\beta x), \qquad \mathrm{SiLU}(x) = \mathrm{Swish}_1(x)$$

    $x\,\sigma(x)$ first appears as SiLU in Hendrycks & Gimpel (2016) and Elfwing et al. (2018). As
    $\beta \to \infty$ Swish tends to ReLU; GELU is close to $\mathrm{Swish}_{1.702}$.

    Args:
        x: any shape.
        beta: slope $\beta$ inside the sigmoid.

    Returns:
        Same shape as ``x``.
    """
    return x * torch.sigmoid(beta * x)


class SwiGLUFFN(nn.Module):
    r"""Gated feed-forward network (Shazeer, 2020, eq. 6; the LLaMA ``FeedForward``), without biases.

    $$\mathrm{FFN}_{\mathrm{SwiGLU}}(x) = W_2\left(\mathrm{SiLU}(W_1 x) \odot W_3 x\right)$$

    Three matrices instead of two: with $d_{ff} = \tfrac{8}{3} d$ it has $3 \cdot d \cdot \tfrac{8}{3} d = 8d^2$
    parameters, the same as a two-matrix FFN with $d_{ff} = 4d$. Passing ``activation=F.gelu`` gives GEGLU,
    ``torch.sigmoid`` Dauphin et al.'s GLU.

    Args:
        d_model: model width $d$.
        d_ff: hidden width.
        activation: the gate's nonlinearity (default SiLU).
    """

    def __init__(self, d_model: int, d_ff: int, activation: Callable[[torch.Tensor], torch.Tensor] = F.silu):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff, bias=False)  # gate projection
        self.w3 = nn.Linear(d_model, d_ff, bias=False)  # up (value) projection
        self.w2 = nn.Linear(d_ff, d_model, bias=False)  # down projection
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[..., d_model]`` -> ``[..., d_model]``."""
        return self.w2(self.activation(self.w1(x)) * self.w3(x))


def llama_ffn_hidden_size(
    d_model: int, multiple_of: int = 256, ffn_dim_multiplier: float | None = None
) -> int:
    r"""SwiGLU hidden width as LLaMA's code computes it (``FeedForward`` in ``meta-llama/llama``).

    $$d_{ff} = m \left\lceil \frac{\lfloor c \cdot \lfloor 2 \cdot 4d / 3 \rfloor \rfloor}{m} \right\rceil$$

    $\tfrac{2}{3} \cdot 4d$ keeps the parameter count of a $4d$ two-matrix FFN; rounding up to a multiple $m$
    keeps matrix shapes friendly to GPU kernels and tensor parallelism. LLaMA-1 uses $m = 256$ and no
    multiplier $c$; later LLaMA releases widen the FFN with ``ffn_dim_multiplier``.

    Args:
        d_model: model width $d$.
        multiple_of: $m$.
        ffn_dim_multiplier: optional $c$ applied before rounding.

    Returns:
        The hidden width $d_{ff}$.
    """
    check(multiple_of >= 1, f"multiple_of must be >= 1, got {multiple_of}")
    hidden = int(2 * (4 * d_model) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)

r"""LoRA (Hu et al., 2021; arXiv 2106.09685) written out: a frozen linear layer plus a trainable low-rank update.

The pretrained weight $W_0$ is **not** decomposed and not changed. LoRA adds a low-rank update
$\Delta W = BA$ with $B \in \mathbb{R}^{d_{out} \times r}$, $A \in \mathbb{R}^{r \times d_{in}}$ and trains only
$A$ and $B$. $B$ starts at zero, so the wrapped layer starts as exactly the pretrained layer; after training
$BA$ can be merged into $W_0$, so inference costs nothing extra.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mllm_handbook._checks import check


class LoRALinear(nn.Module):
    r"""A frozen ``nn.Linear`` with a trainable low-rank update, scaled by $\alpha / r$.

    $$h = W_0 x + b + \frac{\alpha}{r} B A x$$

    $B$ starts at zero, so the adapted layer equals the base layer at initialisation (LoRA paper, §4.1). $A$ is
    random: Gaussian in the paper, Kaiming-uniform (like a linear layer) in Microsoft's loralib and in peft,
    which is what this uses. Only ``lora_A`` and ``lora_B`` require gradients.

    Args:
        base: the pretrained ``nn.Linear`` (``in_features`` $d_{in}$, ``out_features`` $d_{out}$); frozen in place.
        r: rank, ``1 <= r <= min(d_in, d_out)``.
        alpha: scaling numerator $\alpha$; the update is multiplied by $\alpha / r$.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float) -> None:
        super().__init__()
        check(isinstance(base, nn.Linear), f"base must be an nn.Linear, got {type(base).__name__}")
        max_rank = min(base.in_features, base.out_features)
        check(0 < r <= max_rank, f"r must be in [1, {max_rank}] (= min(in, out)), got {r}")
        self.base = base.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=base.weight.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=base.weight.dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def delta_weight(self) -> torch.Tensor:
        r"""The update $\frac{\alpha}{r} B A$, shape ``[d_out, d_in]`` (rank at most $r$)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [..., d_in]`` → ``[..., d_out]``; the update is applied without forming $BA$."""
        return self.base(x) + self.scaling * (x @ self.lora_A.T @ self.lora_B.T)

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        r"""A plain ``nn.Linear`` with weight $W_0 + \frac{\alpha}{r} B A$: same outputs, no extra latency."""
        merged = nn.Linear(
            self.base.in_features,
            self.base.out_features,
            bias=self.base.bias is not None,
            dtype=self.base.weight.dtype,
        )
        merged.weight.copy_(self.base.weight + self.delta_weight())
        if self.base.bias is not None:
            merged.bias.copy_(self.base.bias)
        return merged


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)

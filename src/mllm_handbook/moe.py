r"""Mixture-of-Experts feed-forward layers: top-k routing, load balancing, capacity, parameter counts.

A MoE layer replaces the dense FFN by $N$ expert FFNs and a router; each token runs only the $k$ experts
with the highest router scores and adds their outputs, weighted by the gate values (Shazeer et al., 2017;
GShard, Lepikhin et al., 2021; Switch Transformer, Fedus et al., 2022; Mixtral, Jiang et al., 2024).

Tokens are flattened: activations are ``[tokens, d_model]`` and router logits ``[tokens, experts]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook._checks import check
from mllm_handbook.ffn import SwiGLUFFN


def top_k_routing(
    router_logits: torch.Tensor, top_k: int, renormalize: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Softmax router with top-$k$ selection.

    $$p(x) = \mathrm{softmax}(W_r x), \qquad \mathcal{T}(x) = \mathrm{TopK}(p(x), k)$$

    $$g_i(x) = \frac{p_i(x)}{\sum_{j \in \mathcal{T}(x)} p_j(x)} \ (\text{renormalised}) \quad \text{or} \quad
    g_i(x) = p_i(x), \qquad i \in \mathcal{T}(x)$$

    Mixtral computes $\mathrm{softmax}(\mathrm{TopK}(W_r x))$, which is the renormalised form (Jiang et al.,
    2024); Switch (top-1) keeps $p_i$, so the router still gets a gradient (Fedus et al., 2022).

    Args:
        router_logits: ``[tokens, experts]``.
        top_k: experts per token, $1 \le k \le N$.
        renormalize: rescale the $k$ gate values to sum to 1.

    Returns:
        ``(weights, experts)``, both ``[tokens, top_k]``: gate values and expert indices, best first.
    """
    check(1 <= top_k <= router_logits.shape[-1], f"need 1 <= top_k <= {router_logits.shape[-1]}, got {top_k}")
    weights, experts = router_logits.softmax(dim=-1).topk(top_k, dim=-1)
    if renormalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights, experts


def load_balancing_loss(router_logits: torch.Tensor, top_k: int) -> torch.Tensor:
    r"""Auxiliary load-balancing loss of Switch Transformer (Fedus et al., 2022, eq. 4–6; arXiv 2101.03961).

    $$\mathcal{L}_{\mathrm{aux}} = N \sum_{i=1}^{N} f_i P_i, \qquad
    f_i = \frac{1}{T} \sum_{x} [\, i \in \mathrm{TopK}(p(x), k) \,], \qquad P_i = \frac{1}{T} \sum_{x} p_i(x)$$

    $f_i$ is the fraction of the $T$ tokens that have expert $i$ among their top-$k$ (so $\sum_i f_i = k$) and
    $P_i$ the mean router probability of expert $i$. It equals $k$ under perfectly uniform routing (1 for
    Switch's top-1) and approaches $N$ when every token goes to the same expert with certainty. $f$ is a
    count, so the gradient flows only through $P$. For $k > 1$ this is the loss of the Mixtral implementation
    in Hugging Face Transformers (``load_balancing_loss_func``); the training loss adds $\alpha \mathcal{L}_{\mathrm{aux}}$
    ($\alpha = 10^{-2}$ in Switch).

    Args:
        router_logits: ``[tokens, experts]`` logits $W_r x$.
        top_k: $k$, the experts each token is sent to.

    Returns:
        Scalar loss.
    """
    check(router_logits.dim() == 2, f"router_logits must be [tokens, experts], got {router_logits.dim()}-D")
    num_experts = router_logits.shape[-1]
    check(1 <= top_k <= num_experts, f"need 1 <= top_k <= {num_experts}, got {top_k}")
    probs = router_logits.softmax(dim=-1)
    chosen = probs.topk(top_k, dim=-1).indices
    f = F.one_hot(chosen, num_experts).sum(dim=1).to(probs.dtype).mean(dim=0)  # [experts]: counts, no grad
    p = probs.mean(dim=0)  # [experts]: carries the gradient
    return num_experts * (f * p).sum()


def expert_capacity(num_tokens: int, num_experts: int, capacity_factor: float = 1.0, top_k: int = 1) -> int:
    r"""Slots per expert in one batch (GShard's expert capacity; Fedus et al., 2022, §2.2).

    $$C = \left\lceil \mathrm{cf} \cdot \frac{k \cdot T}{N} \right\rceil$$

    With $\mathrm{cf} = 1$ the slots exactly fit perfectly balanced routing; $\mathrm{cf} > 1$ leaves room
    for imbalance at the cost of memory and padded computation.

    Args:
        num_tokens: $T$ tokens in the batch.
        num_experts: $N$.
        capacity_factor: $\mathrm{cf} > 0$.
        top_k: $k$ assignments per token.

    Returns:
        The capacity $C$.
    """
    check(capacity_factor > 0, f"capacity_factor must be > 0, got {capacity_factor}")
    return math.ceil(capacity_factor * top_k * num_tokens / num_experts)


def capacity_mask(experts: torch.Tensor, num_experts: int, capacity: int) -> torch.Tensor:
    r"""Which token-to-expert assignments fit in the experts' capacity; the rest are dropped.

    Assignments queue per expert: all first choices in token order, then all second choices, and so on
    (GShard's priority). An assignment is kept iff its position in its expert's queue is $< C$. A dropped
    assignment contributes nothing; in a Transformer block the residual connection still carries the token.

    Args:
        experts: ``[tokens, top_k]`` expert indices from :func:`top_k_routing`.
        num_experts: $N$.
        capacity: $C \ge 0$ slots per expert.

    Returns:
        ``[tokens, top_k]`` boolean, True = processed.
    """
    check(capacity >= 0, f"capacity must be >= 0, got {capacity}")
    queue = F.one_hot(experts.T.reshape(-1), num_experts)  # [top_k * tokens, experts], choice-major
    position = (queue.cumsum(dim=0) * queue).sum(dim=-1) - 1  # place in its expert's queue
    return (position < capacity).view(experts.shape[1], experts.shape[0]).T


class MoELayer(nn.Module):
    r"""Sparse MoE feed-forward layer with SwiGLU experts and optional shared experts (DeepSeekMoE).

    $$y = \sum_{j=1}^{N_s} \mathrm{FFN}^{(s)}_j(x) + \sum_{i \in \mathcal{T}(x)} g_i(x)\, \mathrm{FFN}_i(x)$$

    Shared experts see every token (Dai et al., 2024; arXiv 2401.06066); routed experts only their tokens.

    Args:
        d_model: model width $d$.
        d_expert: hidden width of each expert.
        num_experts: routed experts $N$.
        top_k: experts per token $k$.
        num_shared: always-active shared experts $N_s$.
        renormalize: renormalise the top-$k$ gate values (see :func:`top_k_routing`).
    """

    def __init__(
        self,
        d_model: int,
        d_expert: int,
        num_experts: int,
        top_k: int,
        num_shared: int = 0,
        renormalize: bool = True,
    ):
        super().__init__()
        check(1 <= top_k <= num_experts, f"need 1 <= top_k <= num_experts ({num_experts}), got {top_k}")
        self.top_k, self.renormalize = top_k, renormalize
        self.router = nn.Linear(d_model, num_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLUFFN(d_model, d_expert) for _ in range(num_experts))
        self.shared = nn.ModuleList(SwiGLUFFN(d_model, d_expert) for _ in range(num_shared))

    def forward(self, x: torch.Tensor, capacity: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: ``[tokens, d_model]`` -> (``[tokens, d_model]``, router logits ``[tokens, experts]``)."""
        logits = self.router(x)
        weights, experts = top_k_routing(logits, self.top_k, self.renormalize)
        if capacity is not None:
            weights = weights * capacity_mask(experts, len(self.experts), capacity)
        y = torch.zeros_like(x)
        for shared in self.shared:
            y = y + shared(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(experts == e)  # the tokens routed to expert e
            y = y.index_add(0, token, weights[token, slot, None] * expert(x[token]))
        return y, logits


def moe_ffn_params(
    d_model: int, d_expert: int, num_experts: int, top_k: int, num_shared: int = 0
) -> tuple[int, int]:
    r"""Total and per-token active parameters of one MoE FFN with SwiGLU experts and a linear router.

    $$P_{\mathrm{total}} = (N + N_s) \cdot 3 d\, d_e + d N, \qquad P_{\mathrm{active}} = (k + N_s) \cdot 3 d\, d_e + d N$$

    Args:
        d_model: $d$.
        d_expert: expert hidden width $d_e$.
        num_experts: routed experts $N$.
        top_k: routed experts per token $k$.
        num_shared: shared experts $N_s$.

    Returns:
        ``(total, active)``.
    """
    expert, router = 3 * d_model * d_expert, d_model * num_experts
    return (num_experts + num_shared) * expert + router, (top_k + num_shared) * expert + router


def bias_balanced_routing(
    scores: torch.Tensor, bias: torch.Tensor, top_k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""DeepSeek-V3's auxiliary-loss-free routing: a per-expert bias picks the experts, the scores weigh them.

    $$\mathcal{T}(x) = \mathrm{TopK}(s(x) + b, k), \qquad g_i(x) = \frac{s_i(x)}{\sum_{j \in \mathcal{T}(x)} s_j(x)}$$

    (DeepSeek-AI, 2024, §2.1.2; arXiv 2412.19437). The bias only changes *which* experts are chosen, never the
    gate values, and it is set by :func:`update_routing_bias`, not by gradients.

    Args:
        scores: ``[tokens, experts]`` non-negative affinities $s$ (DeepSeek-V3 uses sigmoids).
        bias: ``[experts]`` routing bias $b$.
        top_k: experts per token.

    Returns:
        ``(weights, experts)``, both ``[tokens, top_k]``.
    """
    check(1 <= top_k <= scores.shape[-1], f"need 1 <= top_k <= {scores.shape[-1]}, got {top_k}")
    experts = (scores + bias).topk(top_k, dim=-1).indices
    weights = scores.gather(-1, experts)
    return weights / weights.sum(dim=-1, keepdim=True), experts


def update_routing_bias(
    bias: torch.Tensor, experts: torch.Tensor, num_experts: int, gamma: float = 1e-3
) -> torch.Tensor:
    r"""One step of DeepSeek-V3's bias update: lower the bias of overloaded experts, raise underloaded ones.

    $$b_i \leftarrow b_i + \gamma\, \mathrm{sign}(\bar{c} - c_i)$$

    where $c_i$ is the number of tokens routed to expert $i$ in the step and $\bar c$ the mean over experts
    (DeepSeek-AI, 2024, §2.1.2; §4.2 sets $\gamma = 0.001$ for most of pre-training).

    Args:
        bias: ``[experts]`` current bias.
        experts: ``[tokens, top_k]`` expert indices chosen in this step.
        num_experts: $N$.
        gamma: bias update speed $\gamma$.

    Returns:
        The new ``[experts]`` bias.
    """
    load = torch.bincount(experts.flatten(), minlength=num_experts).to(bias.dtype)
    return bias + gamma * torch.sign(load.mean() - load)

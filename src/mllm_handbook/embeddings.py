r"""Word embeddings: a lookup table, the same thing as a one-hot vector times a matrix.

A vocabulary of $V$ tokens gets a learnable matrix $E \in \mathbb{R}^{V \times d}$; token $i$ is represented
by row $i$. Written as a product, $\mathrm{onehot}(i)^\top E = E_i$, which is why an embedding layer is a
linear layer whose input happens to be one-hot, and why ``nn.Embedding`` (a row gather) is used instead:
it skips the $V$-wide multiply. Training makes related tokens' rows point in similar directions, which
cosine similarity measures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check, check_floating


def _check_ids(token_ids: torch.Tensor, weight: torch.Tensor) -> None:
    check(not token_ids.is_floating_point(), f"token_ids must be integer, got {token_ids.dtype}")
    check(weight.dim() == 2, f"weight must be [vocab, dim], got {list(weight.shape)}")
    check(
        token_ids.numel() == 0 or (int(token_ids.min()) >= 0 and int(token_ids.max()) < weight.shape[0]),
        f"token ids must lie in [0, {weight.shape[0]})",
    )


def embedding_lookup(token_ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Row gather $e = E_{i}$, what ``torch.nn.functional.embedding`` computes.

    Args:
        token_ids: ``[...]`` integer ids in ``[0, V)``.
        weight: ``[V, d]`` embedding matrix $E$.

    Returns:
        ``[..., d]`` embeddings.
    """
    _check_ids(token_ids, weight)
    return weight[token_ids]


def one_hot_embedding(token_ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""The same lookup written as a matrix product with a one-hot vector (Bengio et al., 2003).

    $$e = \mathrm{onehot}(i)^\top E, \quad \mathrm{onehot}(i) \in \{0, 1\}^{V}$$

    Args:
        token_ids: ``[...]`` integer ids in ``[0, V)``.
        weight: ``[V, d]`` embedding matrix $E$.

    Returns:
        ``[..., d]``, equal to :func:`embedding_lookup`.
    """
    _check_ids(token_ids, weight)
    check_floating(weight, "weight")
    return F.one_hot(token_ids, weight.shape[0]).to(weight.dtype) @ weight


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    r"""Pairwise cosine similarity between the rows of ``a`` and the rows of ``b``.

    $$\cos(a_i, b_j) = \frac{a_i \cdot b_j}{\max(\lVert a_i \rVert\, \lVert b_j \rVert, \epsilon)}$$

    Args:
        a: ``[n, d]`` vectors.
        b: ``[m, d]`` vectors.
        eps: guards against division by zero.

    Returns:
        ``[n, m]`` similarities in $[-1, 1]$.
    """
    check_floating(a, "a")
    check(a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[1], "a and b must be [n, d] and [m, d]")
    norms = a.norm(dim=1, keepdim=True) * b.norm(dim=1)
    return (a @ b.T) / norms.clamp_min(eps)


def skipgram_negative_sampling_loss(
    center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    r"""Word2vec skip-gram with negative sampling (Mikolov et al., 2013, eq. 4; arXiv 1310.4546).

    For a centre vector $v_c$, a true context vector $u_o$ and $K$ sampled negatives $u_k$:

    $$\mathcal{L} = -\log \sigma(u_o^\top v_c) - \sum_{k=1}^{K} \log \sigma(-u_k^\top v_c)$$

    Args:
        center: ``[batch, d]`` centre-word ("input") vectors $v_c$.
        context: ``[batch, d]`` context-word ("output") vectors $u_o$.
        negatives: ``[batch, K, d]`` negative-sample vectors $u_k$.

    Returns:
        Scalar, the batch mean of $\mathcal{L}$.
    """
    check_floating(center, "center")
    check(center.shape == context.shape and center.dim() == 2, "center and context must both be [batch, d]")
    check(
        negatives.dim() == 3 and negatives.shape[::2] == center.shape,
        f"negatives must be [batch, K, d] = [{center.shape[0]}, K, {center.shape[1]}]",
    )
    positive = F.logsigmoid((context * center).sum(-1))
    negative = F.logsigmoid(-(negatives @ center.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return -(positive + negative).mean()

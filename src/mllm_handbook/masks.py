r"""Masks: which positions may attend to which, and which tokens a masked LM hides.

Attention masks are boolean with ``True`` = may attend, as in
``torch.nn.functional.scaled_dot_product_attention``; row $i$ is the query, column $j$ the key. The three
pre-training families differ mostly in this matrix:

* **causal** (GPT, LLaMA): position $i$ sees $j \le i$;
* **bidirectional** (BERT, a T5 encoder): every position sees every position;
* **prefix / blank infilling** (prefix LM, GLM): a bidirectional prefix, then causal.

:func:`mlm_mask_tokens` is the other kind of mask: BERT's input corruption.
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check


def causal_mask(
    q_len: int, k_len: int | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    r"""Causal (lower-triangular) mask: query $i$ may attend to key $j$ iff $j \le i$.

    $$m_{ij} = [\, j \le i \,]$$

    Top-left aligned when ``k_len != q_len``, like ``is_causal=True`` in PyTorch.

    Args:
        q_len: number of queries $L_q \ge 1$.
        k_len: number of keys $L_k$ (default ``q_len``).
        device: where to build the mask.

    Returns:
        ``[q_len, k_len]`` boolean.
    """
    k_len = q_len if k_len is None else k_len
    check(q_len >= 1 and k_len >= 1, f"lengths must be >= 1, got q_len={q_len}, k_len={k_len}")
    return torch.ones(q_len, k_len, dtype=torch.bool, device=device).tril()


def prefix_lm_mask(seq_len: int, prefix_len: int) -> torch.Tensor:
    r"""Prefix-LM mask (Raffel et al., 2020, Fig. 3; Dong et al., 2019): bidirectional prefix, causal rest.

    $$m_{ij} = [\, j \le i \ \text{or}\ j < P \,]$$

    With ``prefix_len = 0`` it is the causal mask; with ``prefix_len = seq_len`` it is fully visible.

    Args:
        seq_len: sequence length $L$.
        prefix_len: prefix length $P$, $0 \le P \le L$.

    Returns:
        ``[seq_len, seq_len]`` boolean.
    """
    check(0 <= prefix_len <= seq_len, f"need 0 <= prefix_len <= seq_len, got {prefix_len} and {seq_len}")
    mask = causal_mask(seq_len)
    mask[:, :prefix_len] = True
    return mask


def glm_blank_infilling_mask(part_a_len: int, part_b_len: int) -> torch.Tensor:
    r"""GLM's self-attention mask for autoregressive blank infilling (Du et al., 2022, Fig. 2d; arXiv 2103.10360).

    The input is Part A (the corrupted text, spans replaced by ``[MASK]``) followed by Part B (the masked spans,
    each starting with ``[S]``). Part A tokens attend to all of Part A but not to Part B; Part B tokens attend
    to all of Part A and to the Part B tokens before them. It is a prefix-LM mask with prefix Part A:

    $$m_{ij} = [\, j < |A| \ \text{or}\ j \le i \,]$$

    Args:
        part_a_len: length of Part A, $|A| \ge 1$.
        part_b_len: length of Part B, $\ge 0$.

    Returns:
        ``[|A| + |B|, |A| + |B|]`` boolean.
    """
    check(part_a_len >= 1 and part_b_len >= 0, "need part_a_len >= 1 and part_b_len >= 0")
    return prefix_lm_mask(part_a_len + part_b_len, part_a_len)


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    r"""Key-padding mask: ``True`` for real tokens, ``False`` for right padding.

    $$m_{bj} = [\, j < \ell_b \,]$$

    Broadcast as ``mask[:, None, None, :]`` to hide padded keys from every query and head.

    Args:
        lengths: ``[batch]`` integer lengths $\ell_b$, each in ``[0, max_len]``.
        max_len: padded length.

    Returns:
        ``[batch, max_len]`` boolean.
    """
    check(not lengths.is_floating_point() and lengths.dim() == 1, "lengths must be a 1-D integer tensor")
    check(bool(((lengths >= 0) & (lengths <= max_len)).all()), f"lengths must lie in [0, {max_len}]")
    return torch.arange(max_len, device=lengths.device) < lengths[:, None]


def mlm_mask_tokens(
    input_ids: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    special_tokens_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""BERT's masked-LM corruption (Devlin et al., 2019, §3.1 and App. C.2; arXiv 1810.04805).

    Each non-special token is selected with probability $p$ (15 %). A selected token is replaced by
    ``[MASK]`` 80 % of the time, by a random token 10 % and kept 10 %. Labels are the original ids at the
    selected positions and $-100$ elsewhere, so the cross-entropy ignores unselected positions:

    $$\mathcal{L}_{\mathrm{MLM}} = -\frac{1}{|S|} \sum_{i \in S} \log p_\theta(x_i \mid \tilde{x})$$

    Args:
        input_ids: ``[...]`` integer token ids.
        mask_token_id: id of ``[MASK]``.
        vocab_size: size of the vocabulary to draw random tokens from.
        mlm_probability: selection probability $p$ in ``(0, 1)``.
        special_tokens_mask: optional boolean, same shape; ``True`` = never select (e.g. ``[CLS]``, padding).
        generator: optional ``torch.Generator`` for reproducibility.

    Returns:
        ``(corrupted_ids, labels)``, both shaped like ``input_ids``.
    """
    check(not input_ids.is_floating_point(), f"input_ids must be integer, got {input_ids.dtype}")
    check(0.0 < mlm_probability < 1.0, f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if special_tokens_mask is not None:
        check(special_tokens_mask.shape == input_ids.shape, "special_tokens_mask must match input_ids' shape")

    def draw(p: float) -> torch.Tensor:
        return torch.rand(input_ids.shape, generator=generator) < p

    selected = draw(mlm_probability)
    if special_tokens_mask is not None:
        selected &= ~special_tokens_mask
    labels = input_ids.masked_fill(~selected, -100)
    to_mask = selected & draw(0.8)
    to_random = selected & ~to_mask & draw(0.5)  # half of the remaining 20 %
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    corrupted = input_ids.masked_fill(to_mask, mask_token_id)
    corrupted = torch.where(to_random, random_ids, corrupted)
    return corrupted, labels

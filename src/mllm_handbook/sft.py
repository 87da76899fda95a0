r"""Supervised fine-tuning (SFT) batches: chat template, prompt masking, shifted loss, and packing.

A conversation is rendered with a chat template (here ChatML-style ``<|im_start|>role ... <|im_end|>``),
tokenised, and given labels equal to the input ids on the assistant's tokens and ``-100`` everywhere else,
so the cross-entropy only scores the responses. Any tokenizer ``str -> list[int]`` can be plugged in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check, check_floating
from mllm_handbook.masks import causal_mask

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")


def render_turn(role: str, content: str) -> tuple[str, str, str]:
    """ChatML-style pieces of one turn: (header, content, footer); only an assistant's content+footer is trained."""
    check(role in ROLES, f"role must be one of {ROLES}, got {role!r}")
    return f"<|im_start|>{role}\n", content, "<|im_end|>\n"


def build_sft_example(
    messages: Sequence[dict[str, str]], tokenize: Callable[[str], list[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Token ids and labels for one conversation; labels are ``-100`` except on assistant replies.

    $$\ell_t = x_t \ \text{if } t \in \mathcal{A},\qquad \ell_t = -100 \ \text{otherwise}$$

    where $\mathcal{A}$ is the set of positions inside assistant replies (content and end-of-turn token).

    Args:
        messages: ``[{"role": ..., "content": ...}, ...]`` with at least one assistant turn.
        tokenize: maps text to token ids (pieces are tokenised separately so the boundaries are exact).

    Returns:
        ``(input_ids, labels)``, both ``[seq]`` long tensors.
    """
    check(any(m["role"] == "assistant" for m in messages), "a conversation needs at least one assistant turn")
    ids: list[int] = []
    labels: list[int] = []
    for m in messages:
        header, content, footer = render_turn(m["role"], m["content"])
        trained = m["role"] == "assistant"
        for piece, scored in ((header, False), (content, trained), (footer, trained)):
            tokens = tokenize(piece)
            ids += tokens
            labels += tokens if scored else [IGNORE_INDEX] * len(tokens)
    return torch.tensor(ids), torch.tensor(labels)


def pad_batch(
    examples: Sequence[tuple[torch.Tensor, torch.Tensor]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad examples to one length: ``(input_ids, labels, attention_mask)``, each ``[batch, max_len]``.

    Padding gets label ``-100`` and attention mask ``False``.
    """
    check(len(examples) > 0, "need at least one example")
    length = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), length), pad_id)
    labels = torch.full((len(examples), length), IGNORE_INDEX)
    mask = torch.zeros(len(examples), length, dtype=torch.bool)
    for i, (ids, lab) in enumerate(examples):
        input_ids[i, : len(ids)], labels[i, : len(ids)], mask[i, : len(ids)] = ids, lab, True
    return input_ids, labels, mask


def sft_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Shifted next-token cross-entropy, averaged over the supervised (label $\ne -100$) tokens only.

    $$\mathcal{L} = -\frac{1}{|S|}\sum_{t \in S} \log p_\theta(x_{t} \mid x_{<t}),\quad S = \{t : \ell_t \ne -100\}$$

    Args:
        logits: ``[batch, seq, vocab]``; position $t$ predicts token $t + 1$.
        labels: ``[batch, seq]`` from :func:`build_sft_example` / :func:`pad_batch`.

    Returns:
        Scalar loss.
    """
    check_floating(logits, "logits")
    check(logits.dim() == 3 and labels.shape == logits.shape[:2], "need logits [B, T, V] and labels [B, T]")
    check(bool((labels[:, 1:] != IGNORE_INDEX).any()), "no supervised tokens: every label is -100")
    shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(shifted_logits.flatten(0, 1), shifted_labels.flatten(), ignore_index=IGNORE_INDEX)


def pack_examples(
    examples: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate examples into one row without padding (packing).

    Returns ``(input_ids, labels, position_ids, doc_ids)``, each ``[total_len]``. Positions restart at 0 in
    every example, and each example's first label is set to ``-100`` so no token is trained to follow the
    previous example. Use :func:`packed_causal_mask` so attention stays inside each example.
    """
    check(len(examples) > 0, "need at least one example")
    labels = [lab.clone() for _, lab in examples]
    for lab in labels:
        lab[0] = IGNORE_INDEX
    input_ids = torch.cat([ids for ids, _ in examples])
    positions = torch.cat([torch.arange(len(ids)) for ids, _ in examples])
    doc_ids = torch.cat([torch.full((len(ids),), i) for i, (ids, _) in enumerate(examples)])
    return input_ids, torch.cat(labels), positions, doc_ids


def packed_causal_mask(doc_ids: torch.Tensor) -> torch.Tensor:
    r"""Block-diagonal causal mask for a packed row: ``mask[i, j]`` is True iff $j \le i$ and both are in the same example."""
    check(doc_ids.dim() == 1, f"doc_ids must be 1-d, got {list(doc_ids.shape)}")
    same_doc = doc_ids[:, None] == doc_ids[None, :]
    return same_doc & causal_mask(len(doc_ids), device=doc_ids.device)

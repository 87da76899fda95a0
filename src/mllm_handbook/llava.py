r"""A toy LLaVA-style forward pass: projected patches spliced into the text, a causal LM, a masked loss.

LLaVA (Liu et al., 2023) writes an ``<image>`` placeholder in the prompt. Before the LLM runs, the
placeholder is replaced by the projected patch features, so the LLM sees one sequence of embeddings
``[text before; image tokens; text after]``. The next-token loss covers text only: every image position
gets the label ``-100`` (PyTorch's ``ignore_index``), so whatever label the placeholder carried cannot
change the loss.

The constants follow the LLaVA code base: ``IMAGE_TOKEN_INDEX = -200`` marks the placeholder in
``input_ids`` and ``IGNORE_INDEX = -100`` marks positions the loss skips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllm_handbook._checks import check
from mllm_handbook.connectors import MLPProjector

IMAGE_TOKEN_INDEX = -200
IGNORE_INDEX = -100


def splice_image_tokens(
    input_ids: torch.Tensor, labels: torch.Tensor, text_embeds: torch.Tensor, image_embeds: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Replace each row's single ``<image>`` placeholder by its image tokens; label them ``-100``.

    Args:
        input_ids: ``[batch, seq]`` token ids with exactly one ``IMAGE_TOKEN_INDEX`` per row.
        labels: ``[batch, seq]`` next-token targets aligned with ``input_ids``.
        text_embeds: ``[batch, seq, dim]`` embeddings of ``input_ids`` (the placeholder row is ignored).
        image_embeds: ``[batch, num_patches, dim]`` projected patch features.

    Returns:
        ``(inputs_embeds, labels)`` of shapes ``[batch, seq - 1 + num_patches, dim]`` and
        ``[batch, seq - 1 + num_patches]``; image positions carry ``IGNORE_INDEX``.
    """
    check(
        input_ids.shape == labels.shape,
        f"labels {list(labels.shape)} must match input_ids {list(input_ids.shape)}",
    )
    check(text_embeds.shape[:2] == input_ids.shape, "text_embeds must be [batch, seq, dim] for input_ids")
    check(
        image_embeds.shape[0] == input_ids.shape[0], "image_embeds must have the same batch size as input_ids"
    )
    check(
        image_embeds.shape[-1] == text_embeds.shape[-1], "image_embeds and text_embeds must have the same dim"
    )
    is_image = input_ids == IMAGE_TOKEN_INDEX
    check(bool((is_image.sum(dim=1) == 1).all()), "each row of input_ids needs exactly one IMAGE_TOKEN_INDEX")
    embeds, new_labels = [], []
    ignore = torch.full(image_embeds.shape[1:2], IGNORE_INDEX, dtype=labels.dtype, device=labels.device)
    for row in range(input_ids.shape[0]):
        p = int(is_image[row].nonzero())
        embeds.append(torch.cat([text_embeds[row, :p], image_embeds[row], text_embeds[row, p + 1 :]]))
        new_labels.append(torch.cat([labels[row, :p], ignore, labels[row, p + 1 :]]))
    return torch.stack(embeds), torch.stack(new_labels)


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Shifted cross-entropy: position $t$ predicts label $t+1$; labels ``-100`` are skipped.

    $$\mathcal{L} = -\frac{1}{|S|}\sum_{t \in S} \log p_\theta(y_{t+1} \mid x_{\le t}),\quad
    S = \{t : y_{t+1} \ne -100\}$$

    Args:
        logits: ``[batch, seq, vocab]``.
        labels: ``[batch, seq]`` with ``IGNORE_INDEX`` where there is no target.

    Returns:
        Scalar mean over the supervised positions.
    """
    check(
        logits.shape[:2] == labels.shape,
        f"logits {list(logits.shape)} and labels {list(labels.shape)} differ",
    )
    shifted_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    return F.cross_entropy(shifted_logits, labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)


class ToyLlava(nn.Module):
    r"""Vision features → MLP projector → spliced into text embeddings → tiny causal Transformer → LM head.

    The vision encoder is left out (the input is already patch features), as are RoPE and RMSNorm: the point
    is the data flow of LLaVA (Liu et al., 2023), not a faithful LLM.

    Args:
        vocab_size: text vocabulary size.
        vision_dim: width of the patch features.
        dim: LLM width.
        num_layers: causal Transformer layers.
        num_heads: attention heads per layer.
    """

    def __init__(self, vocab_size: int, vision_dim: int, dim: int, num_layers: int = 1, num_heads: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.projector = MLPProjector(vision_dim, dim)
        layer = nn.TransformerEncoderLayer(
            dim, num_heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)

    def forward(
        self, patches: torch.Tensor, input_ids: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(logits, loss, spliced_labels)`` for ``patches [B, N, vision_dim]`` and ``input_ids [B, T]``."""
        text_embeds = self.embed(input_ids.clamp(min=0))  # the placeholder's row is replaced below
        inputs_embeds, full_labels = splice_image_tokens(
            input_ids, labels, text_embeds, self.projector(patches)
        )
        length = inputs_embeds.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(length)
        hidden = self.blocks(inputs_embeds, mask=causal, is_causal=True)
        logits = self.lm_head(hidden)
        return logits, next_token_loss(logits, full_labels), full_labels

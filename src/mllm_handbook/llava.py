r"""A toy LLaVA-style forward pass: projected patches spliced into the text, a causal LM, a masked loss.

LLaVA (Liu et al., 2023) writes an ``<image>`` placeholder in the prompt. Before the LLM runs, the
placeholder is replaced by the projected patch features, so the LLM sees one sequence of embeddings
``[text before; image tokens; text after]``. The next-token loss covers text only: every image position
gets the label ``-100`` (PyTorch's ``ignore_index``), so whatever label the placeholder carried cannot
change the loss.

The constants follow the LLaVA code base: ``IMAGE_TOKEN_INDEX = -200`` marks the placeholder in
``input_ids`` and ``IGNORE_INDEX = -100`` marks positions the loss skips.

Staged training freezes and unfreezes the three components (vision encoder, projector, LLM) per stage
(:func:`set_trainable`); :func:`mlp_projector_num_params`, :func:`llama_num_params` and
:func:`vit_num_params` count what each stage trains in LLaVA-1.5 (Liu et al., 2024; arXiv 2310.03744).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

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
    check(labels.shape == input_ids.shape == text_embeds.shape[:2], "labels, text_embeds: one per token")
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
    r"""Vision encoder → MLP projector → spliced into text embeddings → tiny causal Transformer → LM head.

    The input is already patch features; with ``vision_layers=0`` (the default) they go straight to the
    projector, otherwise through a small Transformer that stands in for the vision encoder (ViT). RoPE and
    RMSNorm are left out: the point is the data flow of LLaVA (Liu et al., 2023), not a faithful LLM.
    :attr:`PARTS` names the three components that training recipes freeze or train (see
    :func:`set_trainable`).

    Args:
        vocab_size: text vocabulary size.
        vision_dim: width of the patch features.
        dim: LLM width.
        num_layers: causal Transformer layers.
        num_heads: attention heads per layer.
        vision_layers: layers of the toy vision encoder (0: none).
    """

    #: Component name → the submodules that make it up.
    PARTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("vision",),
        "projector": ("projector",),
        "llm": ("embed", "blocks", "lm_head"),
    }

    def __init__(
        self,
        vocab_size: int,
        vision_dim: int,
        dim: int,
        num_layers: int = 1,
        num_heads: int = 2,
        vision_layers: int = 0,
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.projector = MLPProjector(vision_dim, dim)
        layer = nn.TransformerEncoderLayer(
            dim, num_heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)
        self.vision: nn.Module = nn.Identity()
        if vision_layers > 0:
            vit_layer = nn.TransformerEncoderLayer(
                vision_dim, 1, 2 * vision_dim, dropout=0.0, batch_first=True, norm_first=True
            )
            self.vision = nn.TransformerEncoder(vit_layer, vision_layers, enable_nested_tensor=False)

    def forward(
        self, patches: torch.Tensor, input_ids: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(logits, loss, spliced_labels)`` for ``patches [B, N, vision_dim]`` and ``input_ids [B, T]``."""
        text_embeds = self.embed(input_ids.clamp(min=0))  # the placeholder's row is replaced below
        inputs_embeds, full_labels = splice_image_tokens(
            input_ids, labels, text_embeds, self.projector(self.vision(patches))
        )
        length = inputs_embeds.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(length)
        hidden = self.blocks(inputs_embeds, mask=causal, is_causal=True)
        logits = self.lm_head(hidden)
        return logits, next_token_loss(logits, full_labels), full_labels


def set_trainable(model: ToyLlava, parts: Sequence[str]) -> int:
    r"""Freeze every parameter, then unfreeze the named components; return the trainable count.

    Staged MLLM training is this one switch per stage: LLaVA-1.5 trains ``["projector"]`` and then
    ``["projector", "llm"]`` (Liu et al., 2024); Qwen-VL trains ``["vision", "projector"]``, then all three,
    then ``["projector", "llm"]`` (Bai et al., 2023). Build the optimizer from the parameters with
    ``requires_grad`` only: frozen ones then get no gradient and no optimizer state. Gradients left over
    from the previous stage are dropped.

    Args:
        model: a :class:`ToyLlava`.
        parts: names from :attr:`ToyLlava.PARTS`.

    Returns:
        Number of trainable parameters.
    """
    unknown = set(parts) - set(ToyLlava.PARTS)
    check(not unknown, f"unknown parts {sorted(unknown)}; choose from {sorted(ToyLlava.PARTS)}")
    model.requires_grad_(False)
    model.zero_grad(set_to_none=True)  # no stale gradients from the previous stage
    for part in parts:
        for name in ToyLlava.PARTS[part]:
            getattr(model, name).requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp_projector_num_params(vision_dim: int, llm_dim: int) -> int:
    r"""Parameters of LLaVA-1.5's two-layer MLP projector (``mlp2x_gelu``), biases included.

    $$d_v d + d + d^2 + d$$

    Args:
        vision_dim: $d_v$ (1024 for CLIP ViT-L/14).
        llm_dim: $d$ (4096 for Vicuna-7B, 5120 for Vicuna-13B).

    Returns:
        Parameter count.
    """
    return vision_dim * llm_dim + llm_dim + llm_dim * llm_dim + llm_dim


def llama_num_params(vocab_size: int, dim: int, num_layers: int, ffn_dim: int) -> int:
    r"""Parameters of a LLaMA-style decoder: untied embeddings, bias-free MHA, SwiGLU FFN, RMSNorm.

    $$2Vd + L\,(4d^2 + 3 d\, d_{ff} + 2d) + d$$

    Vicuna-7B/13B v1.5 (LLaVA-1.5's LLMs) have the LLaMA-2 architecture (Touvron et al., 2023).

    Args:
        vocab_size: $V$.
        dim: $d$.
        num_layers: $L$.
        ffn_dim: $d_{ff}$.

    Returns:
        Parameter count.
    """
    per_layer = 4 * dim * dim + 3 * dim * ffn_dim + 2 * dim
    return 2 * vocab_size * dim + num_layers * per_layer + dim


def vit_num_params(image_size: int, patch_size: int, dim: int, num_layers: int, mlp_dim: int) -> int:
    r"""Parameters of a CLIP-style ViT image tower (Radford et al., 2021), without the output projection.

    Bias-free patch convolution, class token, learned positions for $(S/P)^2 + 1$ tokens, pre- and
    post-LayerNorm, and $L$ blocks of attention (with biases), a two-layer MLP and two LayerNorms:

    $$3P^2 d + d + \left(\tfrac{S^2}{P^2} + 1\right) d + 4d
    + L\,\big(4d^2 + 4d + 2 d\, d_{mlp} + d_{mlp} + d + 4d\big)$$

    Args:
        image_size: $S$.
        patch_size: $P$.
        dim: $d$.
        num_layers: $L$.
        mlp_dim: $d_{mlp}$.

    Returns:
        Parameter count.
    """
    tokens = (image_size // patch_size) ** 2 + 1
    embed = 3 * patch_size * patch_size * dim + dim + tokens * dim + 4 * dim
    per_layer = 4 * dim * dim + 4 * dim + 2 * dim * mlp_dim + mlp_dim + dim + 4 * dim
    return embed + num_layers * per_layer

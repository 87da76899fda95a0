r"""Images as tokens: vector quantisation with the straight-through estimator, and Transfusion's mixed mask.

* :func:`vector_quantize` maps each continuous latent to its nearest codebook entry (VQ-VAE, van den Oord
  et al., 2017; VQGAN and the image tokenisers of Parti and Chameleon build on it). The indices are the
  "image tokens" an autoregressive Transformer predicts.
* :func:`vq_loss` is the codebook + commitment loss that trains the codebook and the encoder.
* :func:`transfusion_attention_mask` builds the mask of Transfusion (Zhou et al., 2024): causal over the
  whole sequence, and bidirectional among the patches of the same image.
"""

from __future__ import annotations

import torch

from mllm_handbook._checks import check, check_floating
from mllm_handbook.masks import causal_mask


def vector_quantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Nearest-codebook quantisation with a straight-through gradient (van den Oord et al., 2017).

    $$k^\star = \mathrm{argmin}_k \lVert z - e_k \rVert_2^2,\qquad z_q = z + \mathrm{sg}[e_{k^\star} - z]$$

    The forward value of $z_q$ is $e_{k^\star}$; in the backward pass $\partial z_q / \partial z = I$, so the
    encoder receives the decoder's gradient as if quantisation were the identity ($\mathrm{sg}$ is
    stop-gradient, ``detach``).

    Args:
        z: ``[..., d]`` encoder outputs.
        codebook: ``[K, d]`` code vectors $e_k$.

    Returns:
        ``(z_q, indices)``: ``[..., d]`` quantised latents (straight-through) and ``[...]`` int64 indices.
    """
    check_floating(z, "z")
    check(codebook.dim() == 2, f"codebook must be [K, d], got {list(codebook.shape)}")
    check(
        z.shape[-1] == codebook.shape[1],
        f"z last dim {z.shape[-1]} must match codebook dim {codebook.shape[1]}",
    )
    flat = z.reshape(-1, z.shape[-1])
    distances = (
        flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.T + codebook.pow(2).sum(1)
    )  # ||z||^2 - 2 z.e + ||e||^2
    indices = distances.argmin(dim=1).reshape(z.shape[:-1])
    quantized = codebook[indices]
    return z + (quantized - z).detach(), indices


def vq_loss(z: torch.Tensor, quantized: torch.Tensor, beta: float = 0.25) -> torch.Tensor:
    r"""Codebook loss plus commitment loss (VQ-VAE, eq. 3, without the reconstruction term).

    $$\mathcal{L} = \lVert \mathrm{sg}[z] - e \rVert_2^2 + \beta\, \lVert z - \mathrm{sg}[e] \rVert_2^2$$

    The first term moves the chosen codes towards the encoder outputs; the second keeps the encoder
    committed to its codes. Both are means over elements here; the paper uses $\beta = 0.25$.

    Args:
        z: ``[..., d]`` encoder outputs.
        quantized: ``[..., d]`` the selected code vectors $e_{k^\star}$ (with gradient to the codebook).
        beta: commitment weight.

    Returns:
        Scalar loss.
    """
    check(z.shape == quantized.shape, f"z {list(z.shape)} and quantized {list(quantized.shape)} differ")
    codebook_term = (z.detach() - quantized).pow(2).mean()
    commitment_term = (z - quantized.detach()).pow(2).mean()
    return codebook_term + beta * commitment_term


def transfusion_attention_mask(image_ids: torch.Tensor) -> torch.Tensor:
    r"""Transfusion's mask: causal everywhere, bidirectional inside each image (Zhou et al., 2024).

    $$\mathrm{allowed}_{ij} = [\, j \le i \,] \lor [\, g_i = g_j \ne 0 \,]$$

    where $g_t$ is 0 for a text token and $k \ge 1$ for a patch of the $k$-th image. A patch can see every
    patch of its own image (even later ones) but never a later text token or a later image.

    Args:
        image_ids: ``[seq]`` integer group ids $g_t$ (0 = text, k = image k).

    Returns:
        Boolean ``[seq, seq]``, True = query $i$ may attend to key $j$.
    """
    check(image_ids.dim() == 1, f"image_ids must be 1-D [seq], got {list(image_ids.shape)}")
    check(not image_ids.is_floating_point(), "image_ids must be integers (0 = text, k = image k)")
    check(bool((image_ids >= 0).all()), "image_ids must be >= 0")
    seq = image_ids.shape[0]
    causal = causal_mask(seq)
    same_image = (image_ids[:, None] == image_ids[None, :]) & (image_ids[:, None] > 0)
    return causal | same_image

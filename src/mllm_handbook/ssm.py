r"""Linear attention and state-space models: sequence mixers that decode with a constant-size state.

* Linear attention (Katharopoulos et al., 2020; arXiv 2006.16236) replaces $\exp(q^\top k)$ by a feature-map
  product $\phi(q)^\top \phi(k)$, so causal attention becomes a running sum $S_t = S_{t-1} + \phi(k_t) v_t^\top$.
* A linear state-space model (SSM) runs $h_t = \bar A h_{t-1} + \bar B x_t$, $y_t = C h_t$. With fixed
  parameters it is a causal convolution with kernel $C \bar A^i \bar B$ (S4, Gu et al., 2022; arXiv
  2111.00396); Mamba makes $\Delta$, $B$, $C$ depend on the input (Gu & Dao, 2024; arXiv 2312.00752).

Attention tensors are ``[..., seq, dim]``; SSM inputs are ``[batch, seq, channels]`` with a diagonal state of
size ``d_state`` per channel, as in Mamba.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mllm_handbook._checks import check
from mllm_handbook.masks import causal_mask


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    r"""The positive feature map of Katharopoulos et al. (2020, §3.2.1): $\phi(x) = \mathrm{elu}(x) + 1$."""
    return F.elu(x) + 1.0


def causal_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map: Callable[[torch.Tensor], torch.Tensor] = elu_feature_map,
) -> torch.Tensor:
    r"""Causal linear attention, parallel (training) form (Katharopoulos et al., 2020, §3.2–3.3).

    $$y_i = \frac{\sum_{j \le i} \phi(q_i)^\top \phi(k_j)\, v_j}{\sum_{j \le i} \phi(q_i)^\top \phi(k_j)}$$

    It forms the $L \times L$ matrix like softmax attention, but with $\phi(q)^\top\phi(k)$ in place of
    $\exp(q^\top k / \sqrt{d})$; :func:`linear_attention_recurrent` computes the same output in $O(L)$.

    Args:
        q: ``[..., L, d_k]`` queries.
        k: ``[..., L, d_k]`` keys.
        v: ``[..., L, d_v]`` values.
        feature_map: $\phi$, must map to positive values.

    Returns:
        ``[..., L, d_v]``.
    """
    scores = feature_map(q) @ feature_map(k).transpose(-2, -1)  # [..., L, L], all positive
    scores = scores * causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    return (scores @ v) / scores.sum(dim=-1, keepdim=True)


def linear_attention_recurrent(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map: Callable[[torch.Tensor], torch.Tensor] = elu_feature_map,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Causal linear attention as an RNN (Katharopoulos et al., 2020, §3.4, "Transformers are RNNs").

    $$S_t = S_{t-1} + \phi(k_t)\, v_t^\top, \qquad z_t = z_{t-1} + \phi(k_t), \qquad
    y_t = \frac{S_t^\top \phi(q_t)}{z_t^\top \phi(q_t)}$$

    The state $(S_t, z_t)$ has $d_k (d_v + 1)$ numbers per head whatever the length: decoding needs no KV cache.

    Args:
        q: ``[..., L, d_k]`` queries.
        k: ``[..., L, d_k]`` keys.
        v: ``[..., L, d_v]`` values.
        feature_map: $\phi$.

    Returns:
        ``(y, S, z)``: outputs ``[..., L, d_v]`` and the final state ``[..., d_k, d_v]``, ``[..., d_k]``.
    """
    fq, fk = feature_map(q), feature_map(k)
    S = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1])
    z = q.new_zeros(*q.shape[:-2], q.shape[-1])
    outputs = []
    for t in range(q.shape[-2]):
        S = S + fk[..., t, :, None] * v[..., t, None, :]  # rank-1 update phi(k_t) v_t^T
        z = z + fk[..., t, :]
        num = (fq[..., t, :, None] * S).sum(dim=-2)  # S^T phi(q_t)
        outputs.append(num / (fq[..., t, :] * z).sum(dim=-1, keepdim=True))
    return torch.stack(outputs, dim=-2), S, z


def ssm_scan(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r"""Diagonal linear state-space recurrence, one state vector per channel (the Mamba layout).

    $$h_t = A_t \odot h_{t-1} + B_t\, x_t, \qquad y_t = \langle C_t, h_t \rangle, \qquad h_0 = 0$$

    With ``A``, ``B``, ``C`` of shape ``[D, N]`` the system is time-invariant (S4-style); with shape
    ``[batch, L, D, N]`` each step has its own parameters (Mamba's selective scan).

    Args:
        x: ``[batch, L, D]`` input, $D$ channels.
        A: ``[D, N]`` or ``[batch, L, D, N]`` discrete (diagonal) state matrix $\bar A$.
        B: same shapes, discrete input matrix $\bar B$.
        C: same shapes, output matrix.

    Returns:
        ``[batch, L, D]``.
    """
    batch, length, channels = x.shape
    shape = (batch, length, channels, A.shape[-1])
    A, B, C = (torch.broadcast_to(m, shape) for m in (A, B, C))
    h = x.new_zeros(batch, channels, A.shape[-1])
    outputs = []
    for t in range(length):
        h = A[:, t] * h + B[:, t] * x[:, t, :, None]
        outputs.append((C[:, t] * h).sum(dim=-1))
    return torch.stack(outputs, dim=1)


def ssm_kernel(A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, length: int) -> torch.Tensor:
    r"""Convolution kernel of a time-invariant diagonal SSM (the SSM kernel of S4; Gu et al., 2022, §2.4).

    $$K_i = \sum_{n} C_n\, A_n^{\,i}\, B_n, \qquad i = 0, \dots, L-1$$

    Args:
        A: ``[D, N]`` discrete diagonal state matrix.
        B: ``[D, N]``.
        C: ``[D, N]``.
        length: kernel length $L$.

    Returns:
        ``[D, L]``.
    """
    powers = A[..., None] ** torch.arange(length, dtype=A.dtype, device=A.device)  # [D, N, L]
    return ((C * B)[..., None] * powers).sum(dim=1)


def ssm_convolution(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    r"""A time-invariant SSM computed as a causal convolution (the parallel, training-time form of S4).

    $$y_t = \sum_{i=0}^{t} K_i\, x_{t-i}$$

    Equal to :func:`ssm_scan` with the same ``[D, N]`` parameters. S4 evaluates it with FFTs; this uses
    ``F.conv1d`` with left padding, one group per channel.

    Args:
        x: ``[batch, L, D]``.
        A: ``[D, N]``.
        B: ``[D, N]``.
        C: ``[D, N]``.

    Returns:
        ``[batch, L, D]``.
    """
    check(A.dim() == 2, "the convolution form needs time-invariant [D, N] parameters")
    length, channels = x.shape[1], x.shape[2]
    kernel = ssm_kernel(A, B, C, length).flip(-1)[:, None, :]  # conv1d correlates: flip to convolve
    x = F.pad(x.transpose(1, 2), (length - 1, 0))  # causal: pad on the left only
    return F.conv1d(x, kernel, groups=channels).transpose(1, 2)


def mamba_discretize(
    delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Per-step parameters of Mamba's selective SSM (Gu & Dao, 2024, Algorithm 2 and eq. 4).

    $$\bar A_t = \exp(\Delta_t A), \qquad \bar B_t = \Delta_t B_t$$

    Zero-order hold gives $\bar A$; for $\bar B$ the reference implementation uses the first-order
    $\Delta_t B_t$, as here. $\Delta_t$, $B_t$, $C_t$ are computed from the input $x_t$ (selection), so the
    parameters change at every step and the convolution form no longer exists.

    Args:
        delta: ``[batch, L, D]`` positive step sizes $\Delta_t$ (softplus of a projection of $x_t$).
        A: ``[D, N]`` continuous diagonal state matrix (negative entries for a stable, decaying state).
        B: ``[batch, L, N]`` input-dependent $B_t$.
        C: ``[batch, L, N]`` input-dependent $C_t$.

    Returns:
        ``(A_bar, B_bar, C)``, each ``[batch, L, D, N]``, ready for :func:`ssm_scan`.
    """
    A_bar = torch.exp(delta[..., None] * A)
    B_bar = delta[..., None] * B[:, :, None, :]
    return A_bar, B_bar, torch.broadcast_to(C[:, :, None, :], A_bar.shape)


def mamba_state_bytes(
    num_layers: int, d_inner: int, d_state: int = 16, d_conv: int = 4, bytes_per_value: int = 2
) -> int:
    r"""Decoding state of a Mamba model: per layer an SSM state and a short-convolution buffer.

    $$\text{bytes} = L \cdot d_{inner} \cdot (N + d_{conv}) \cdot b$$

    matching the ``ssm_state`` ``[d_inner, d_state]`` and ``conv_state`` ``[d_inner, d_conv]`` that the
    reference implementation allocates per layer. It does not grow with the context.

    Args:
        num_layers: $L$ Mamba blocks.
        d_inner: expanded width (2 × ``d_model`` in Mamba).
        d_state: $N$ (16 in Mamba).
        d_conv: short convolution width (4 in Mamba).
        bytes_per_value: $b$.

    Returns:
        Bytes per sequence.
    """
    return num_layers * d_inner * (d_state + d_conv) * bytes_per_value

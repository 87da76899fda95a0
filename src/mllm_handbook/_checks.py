"""Input checks shared by the modules: fail loudly with a message that says what was expected."""

from __future__ import annotations

import torch


def check(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition`` holds."""
    if not condition:
        raise ValueError(message)


def check_last_dim(x: torch.Tensor, name: str, param: torch.Tensor | None, param_name: str) -> None:
    """``param`` (if given) must be a vector as long as the last dimension of ``x``."""
    if param is not None:
        check(
            param.shape == x.shape[-1:],
            f"{param_name} must have shape [{x.shape[-1]}] to match {name}'s last dim, got {list(param.shape)}",
        )


def check_floating(x: torch.Tensor, name: str) -> None:
    check(x.is_floating_point(), f"{name} must be a floating-point tensor, got {x.dtype}")

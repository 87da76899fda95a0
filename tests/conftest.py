"""Shared by every test: the repository root, and reproducible property-based tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# Property-based tests explore the same examples on every run, so CI is reproducible; a failure found
# locally with `--hypothesis-seed` can be reproduced exactly.
settings.register_profile("handbook", derandomize=True, print_blob=True)
settings.load_profile("handbook")

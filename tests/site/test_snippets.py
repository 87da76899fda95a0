"""Every snippet runs as a plain script and its own asserts hold (the build runs them too)."""

import contextlib
import io
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = sorted((ROOT / "snippets").rglob("*.py"))


@pytest.mark.parametrize(
    "path", SNIPPETS, ids=[p.relative_to(ROOT / "snippets").as_posix() for p in SNIPPETS]
)
def test_snippet_runs_and_prints(path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(path), run_name="__main__")
    assert out.getvalue().strip(), f"{path} printed nothing: a snippet must show its result"


def test_every_snippet_belongs_to_a_page():
    docs = ROOT / "docs" / "zh"
    orphans = [
        p for p in SNIPPETS if not (docs / p.relative_to(ROOT / "snippets").with_suffix(".md")).exists()
    ]
    assert not orphans, f"snippets without a page at the same path: {orphans}"

"""Static gates over the sources and the built site: links, zh/en parity, copywriting, Markdown lint.

Pages are discovered from the docs tree at collection time, so new pages are covered automatically. The
logic lives in ``scripts/checks.py``; ``test_gates_bite.py`` proves each check fails on bad input.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import checks

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def markdown_pages(lang: str | None = None) -> list[str]:
    langs = [lang] if lang else ["zh", "en"]
    return sorted(
        md.relative_to(DOCS).as_posix()
        for code in langs
        for md in (DOCS / code).rglob("*.md")
        if "assets" not in md.parts
    )


def read(rel: str) -> str:
    return (DOCS / rel).read_text(encoding="utf-8")


def test_links_and_anchors_resolve(site):
    """lychee, offline, over every built HTML file: every internal link and #fragment exists."""
    problems = checks.check_links(site)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("rel", checks.page_pairs(DOCS))
def test_zh_en_structure_matches(rel):
    """Same heading anchors, snippet includes, code blocks, formulas and source/tags front matter."""
    problems = checks.parity(read(f"zh/{rel}"), read(f"en/{rel}"), rel)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("rel", markdown_pages())
def test_every_heading_has_an_explicit_anchor(rel):
    problems = checks.headings_without_anchor(read(rel), f"docs/{rel}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("rel", markdown_pages("en"))
def test_english_pages_have_no_chinese_outside_code(rel):
    problems = checks.chinese_outside_code(read(rel), f"docs/{rel}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("rel", markdown_pages("zh"))
def test_chinese_copywriting(rel):
    """autocorrect with .autocorrectrc, on prose only (fenced code is blanked; code spans and math skipped)."""
    problems = checks.cjk_lint(read(rel), f"docs/{rel}")
    assert problems == [], "\n".join(problems)


def test_markdown_lint():
    """pymarkdownlnt with the rule set in .pymarkdown.yml, over every page of both languages."""
    problems = checks.markdown_lint([DOCS / rel for rel in markdown_pages()], ROOT / ".pymarkdown.yml")
    assert problems == [], "\n".join(problems)

"""One bibliography behind every page's references and the reading lists.

``bibliography.yml`` is the only place a paper's authors, title, venue and year are written; pages cite by
key; the prose's author–year mentions must agree with it (``checks.citation_problems``); and the reading
list of each language shows every cited work once, with the pages that cite it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

import checks
from handbook_build import content, generated
from tests.conftest import ROOT

DOCS = ROOT / "docs"
BIBLIOGRAPHY = content.bibliography(ROOT / "bibliography.yml")
ARXIV = re.compile(r"^\d{4}\.\d{4,5}$|^[a-z-]+(\.[A-Z]{2})?/\d{7}$")


def cited(lang: str) -> dict[str, list[str]]:
    """key -> the pages of one language that cite it, in site order."""
    pages: dict[str, list[str]] = {}
    for page, meta in content.written_pages(DOCS / lang).items():
        for key in meta.get("references") or []:
            pages.setdefault(key, []).append(page)
    return pages


@pytest.mark.parametrize("key", sorted(BIBLIOGRAPHY))
def test_each_entry_is_complete(key):
    entry = BIBLIOGRAPHY[key]
    assert entry.get("authors") and entry.get("title"), key
    assert isinstance(entry.get("year"), int) and 1900 <= entry["year"] <= 2026, f"{key}: year"
    links = [field for field in ("arxiv", "doi", "url") if entry.get(field)]
    assert links, f"{key}: give an arXiv id, a DOI or a URL"
    if entry.get("arxiv"):
        assert ARXIV.match(str(entry["arxiv"])), f"{key}: arXiv id {entry['arxiv']!r}"


def test_one_entry_per_paper():
    """The same arXiv id or DOI twice would let two pages give one paper two years."""
    for field in ("arxiv", "doi"):
        ids = Counter(str(e[field]).lower() for e in BIBLIOGRAPHY.values() if e.get(field))
        assert [i for i, n in ids.items() if n > 1] == [], f"{field} used by two entries"


def test_the_twins_cite_the_same_works_and_every_entry_is_cited():
    zh, en = cited("zh"), cited("en")
    assert {k: sorted(v) for k, v in zh.items()} == {k: sorted(v) for k, v in en.items()}
    assert sorted(set(BIBLIOGRAPHY) - set(zh)) == [], "entries no page cites: cite them or remove them"
    assert sorted(set(zh) - set(BIBLIOGRAPHY)) == [], "keys missing from bibliography.yml"


@pytest.mark.parametrize("rel", sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")))
def test_author_year_mentions_agree_with_the_bibliography(rel):
    text = (DOCS / rel).read_text(encoding="utf-8")
    assert checks.citation_problems(text, f"docs/{rel}", BIBLIOGRAPHY) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reading_list_shows_each_cited_work_once_with_its_citing_pages(lang):
    plan = content.site_map()
    page = generated.reading_list(lang, "reading-list.md", DOCS / lang, plan)
    items = [line for line in page.splitlines() if line.startswith("- ")]
    assert len(items) == len(cited(lang))
    for key, pages in cited(lang).items():
        line = generated.cite(BIBLIOGRAPHY[key])
        (at,) = [i for i, text in enumerate(page.splitlines()) if text == f"- {line}  "]
        cited_in = page.splitlines()[at + 1]
        assert [f"({p}.md)" in cited_in for p in pages] == [True] * len(pages), key

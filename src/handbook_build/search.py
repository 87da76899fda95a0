"""The search box's data, written after each language's build.

* ``search/pages.json``: every question page's question, section, keywords, tags, sub-headings and first
  sentence, read from the sources; the source documents' wording of the questions it answers; and the
  glossary's other names for the terms its question and keywords use (``aliases``); and the id Pagefind
  gives the page (``id``), so the box can rank Pagefind's results without fetching each one's fragment.
  The search box ranks pages by how well their question matches the query.
* ``pagefind/``: Pagefind's full-text index of the question pages (``overrides/main.html`` marks their
  article ``data-pagefind-body``), in chunks the page loads only when the reader searches. Pagefind reads the
  language from ``<html lang>`` and segments Chinese itself.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

from handbook_build import content, glossary

#: What the full-text index leaves out of a question page: code, figures, formulas, permalinks, the
#: generated origin line and reference list, and the "translation may be out of date" notice.
EXCLUDE = ".highlight, .handbook-figure, math, .headerlink, .handbook-origin, .handbook-references, .handbook-outdated"
_HEADING = re.compile(r"^###? (.+?)(?:\s*\{[^}]*\})?\s*$", re.M)


def question_pages(docs: Path, plan: content.SiteMap, lang: str) -> list[dict]:
    """The data of every question page written in ``docs`` (one language), in site order."""
    pages = []
    for section in plan.sections:
        for slug in section.pages:
            path = docs / section.slug / f"{slug}.md"
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            meta = content.front_matter(text)
            named = " ".join(map(str, [meta.get("title", slug), *(meta.get("keywords") or [])]))
            pages.append(
                {
                    "url": f"{section.slug}/{slug}/",
                    "title": meta.get("title", slug),
                    "section": section.titles[lang],
                    "keywords": [str(k) for k in meta.get("keywords") or []],
                    "aliases": glossary.aliases(named, lang, docs.parent.parent / "glossary.yml"),
                    "questions": [
                        q.titles[lang] for q in plan.questions if q.id in (meta.get("source") or [])
                    ],
                    "tags": meta.get("tags") or [],
                    "headings": _HEADING.findall(content.FRONT_MATTER.sub("", text)),
                    "text": content.description(meta, text) or "",
                }
            )
    return pages


def fragment_ids(site_dir: Path) -> dict[str, str]:
    """URL (``section/slug/``) -> Pagefind's id for each page it indexed in ``<site>/pagefind/``.

    A search result carries only its page's id; its URL is in the page's fragment
    (``pagefind/fragment/<id>.pf_fragment``: gzip, a ``pagefind_dcd`` signature, then JSON), which the box
    would otherwise fetch for every result it ranks. A test checks each id against the fragment's URL.
    """
    ids = {}
    for fragment in sorted((site_dir / "pagefind" / "fragment").glob("*.pf_fragment")):
        data = gzip.decompress(fragment.read_bytes()).removeprefix(b"pagefind_dcd")
        ids[json.loads(data)["url"].lstrip("/")] = fragment.stem
    return ids


def write_pages(site_dir: Path, pages: list[dict]) -> None:
    """``search/pages.json``, each page with its Pagefind id (the index must be built first)."""
    ids = fragment_ids(site_dir)
    pages = [{**page, "id": ids.get(page["url"], "")} for page in pages]
    (site_dir / "search").mkdir(exist_ok=True)
    (site_dir / "search/pages.json").write_text(json.dumps(pages, ensure_ascii=False), encoding="utf-8")


def index(site_dir: Path) -> str:
    """Pagefind over one language's built site into ``<site>/pagefind/``; returns its errors, if any."""
    command = [sys.executable, "-m", "pagefind", "--site", str(site_dir), "--exclude-selectors", EXCLUDE]
    result = subprocess.run([*command, "--silent"], capture_output=True, text=True)
    return "" if result.returncode == 0 else (result.stdout + result.stderr).strip() or "pagefind failed"

"""Markdown generated at build time from ``site_map.yml``, page front matter and the package itself.

Pages ask for generated content with a placeholder comment, for example ``<!-- handbook:source-index -->``;
:func:`expand` replaces it in the page's language. The same placeholders sit in both languages, so the
zh and en pages can never list different things.
"""

from __future__ import annotations

import pkgutil
import posixpath
import re
from pathlib import Path

from . import sitemap

LABELS = {
    "zh": {
        "id": "编号",
        "question": "源问题",
        "page": "本站页面",
        "not_written": "尚未撰写",
        "answers": "本页回答源问题",
        "index": "源问题索引",
        "questions": "个问题",
        "pages": "页",
        "sep": "、",
        "end": "。",
    },
    "en": {
        "id": "ID",
        "question": "Source question",
        "page": "Page",
        "not_written": "not yet written",
        "answers": "This page answers source question(s)",
        "index": "source-question index",
        "questions": "questions",
        "pages": "pages",
        "sep": ", ",
        "end": ".",
    },
}

SOURCE_INDEX_PAGE = "source-questions.md"
_PLACEHOLDER = re.compile(r"<!--\s*handbook:([a-z-]+)\s*-->")


def relative_link(from_src: str, to_src: str) -> str:
    """Relative Markdown link between two files of the same language tree."""
    return posixpath.relpath(to_src, posixpath.dirname(from_src) or ".")


def claimed_sources(docs_lang_dir: Path) -> dict[str, tuple[str, str]]:
    """Source id -> (page key, page title), from the written pages' ``source:`` front matter."""
    claimed = {}
    for key, meta in sitemap.written_pages(docs_lang_dir).items():
        for source_id in meta.get("source", []):
            claimed[source_id] = (key, meta.get("title", key))
    return claimed


def source_index(lang: str, here: str, docs_lang_dir: Path) -> str:
    """The table of all source questions in source order, each linked to the page that answers it."""
    t = LABELS[lang]
    claimed = claimed_sources(docs_lang_dir)
    rows = [f"| {t['id']} | {t['question']} | {t['page']} |", "|---|---|---|"]
    for q in sitemap.questions():
        if q.id in claimed:
            key, title = claimed[q.id]
            target = f"[{title}]({relative_link(here, key + '.md')})"
        else:
            target = f"*{t['not_written']}*"
        rows.append(f'| <span id="{q.id.lower()}"></span>{q.id} | {q.titles[lang]} | {target} |')
    return "\n".join(rows)


def section_pages(lang: str, here: str, docs_lang_dir: Path) -> str:
    """The list of a section's pages in site order (``here`` is the section's ``index.md``)."""
    t = LABELS[lang]
    slug = here.split("/")[0]
    section = next(s for s in sitemap.sections() if s.slug == slug)
    written = sitemap.written_pages(docs_lang_dir)
    by_page = {}
    for q in sitemap.questions():
        by_page.setdefault(q.page, []).append(q)
    lines = []
    for page in section.pages:
        key = f"{slug}/{page}"
        if key in written:
            ids = " ".join(f"`{i}`" for i in written[key].get("source", []))
            lines.append(f"1. [{written[key].get('title', key)}]({page}.md) {ids}")
        else:
            ids = " ".join(f"`{q.id}`" for q in by_page.get(key, []))
            lines.append(f"1. {by_page[key][0].titles[lang]} {ids} *({t['not_written']})*")
    return "\n".join(lines)


def section_list(lang: str, here: str, docs_lang_dir: Path) -> str:
    """The home page's list of sections, with how many of their pages are written."""
    t = LABELS[lang]
    written = sitemap.written_pages(docs_lang_dir)
    lines = []
    for s in sitemap.sections():
        done = sum(f"{s.slug}/{p}" in written for p in s.pages)
        link = relative_link(here, f"{s.slug}/index.md")
        lines.append(f"1. [{s.titles[lang]}]({link}) · {done}/{len(s.pages)} {t['pages']}")
    return "\n".join(lines)


def api_reference(lang: str, here: str, docs_lang_dir: Path) -> str:
    """One mkdocstrings block per public module of ``mllm_handbook``, found by walking the package."""
    import mllm_handbook

    modules = sorted(
        m.name for m in pkgutil.iter_modules(mllm_handbook.__path__) if not m.name.startswith("_")
    )
    blocks = []
    for name in modules:
        blocks.append(
            f"## `mllm_handbook.{name}` {{ #{name} }}\n\n::: mllm_handbook.{name}\n"
            "    options:\n      show_root_heading: false\n      heading_level: 3\n"
        )
    return "\n".join(blocks)


def source_note(lang: str, here: str, sources: list[str]) -> str:
    """The closing line of a question page: which source questions it answers, linked to the index."""
    t = LABELS[lang]
    index = relative_link(here, SOURCE_INDEX_PAGE)
    links = t["sep"].join(f"[{s}]({index}#{s.lower()})" for s in sources)
    return f"\n\n---\n\n{t['answers']} {links}{t['end']}\n{{: .handbook-source-note }}\n"


GENERATORS = {
    "source-index": source_index,
    "section-pages": section_pages,
    "sections": section_list,
    "api-reference": api_reference,
}


def expand(markdown: str, lang: str, here: str, docs_lang_dir: Path) -> str:
    """Replace every ``<!-- handbook:NAME -->`` placeholder; unknown names raise ``KeyError``."""
    return _PLACEHOLDER.sub(lambda m: GENERATORS[m.group(1)](lang, here, docs_lang_dir), markdown)

"""Markdown generated at build time from ``site_map.yml``, the pages' front matter and the package itself.

A page asks for generated content with a placeholder comment such as ``<!-- handbook:source-index -->``;
:func:`expand` replaces it in the page's language. The zh and en pages carry the same placeholders, so they
can never list different things.
"""

from __future__ import annotations

import pkgutil
import posixpath
import re
from pathlib import Path
from urllib.parse import urlsplit

from handbook_build import content, glossary

LABELS = {
    "zh": {
        "id": "编号",
        "question": "源问题",
        "page": "本站页面",
        "not_written": "尚未撰写",
        "answers": "本页回答源问题",
        "asked": "本页回答的是源文档之外、当前面试常问的问题；见",
        "home": "首页",
        "index": "源问题索引",
        "pages": "页",
        "sep": "、",
        "end": "。",
        "cited": "引用于：",
    },
    "en": {
        "id": "ID",
        "question": "Source question",
        "page": "Page",
        "not_written": "not yet written",
        "answers": "This page answers source question(s)",
        "asked": "This page answers a question today's interviews ask beyond the source documents; see the",
        "home": "home page",
        "index": "source-question index",
        "pages": "pages",
        "sep": ", ",
        "end": ".",
        "cited": "Cited in: ",
    },
}
_PLACEHOLDER = re.compile(r"<!--\s*handbook:([a-z-]+)\s*-->")


def relative_link(from_src: str, to_src: str) -> str:
    """Relative Markdown link between two files of one language's docs folder."""
    return posixpath.relpath(to_src, posixpath.dirname(from_src) or ".")


def source_index(lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """All source questions in source order, each linked to the page that claims it in its front matter."""
    t = LABELS[lang]
    claimed = {
        source_id: (key, meta.get("title", key))
        for key, meta in content.written_pages(docs, plan).items()
        for source_id in meta.get("source") or []
    }
    rows = [f"| {t['id']} | {t['question']} | {t['page']} |", "|---|---|---|"]
    for q in plan.questions:
        if q.id in claimed:
            key, title = claimed[q.id]
            target = f"[{title}]({relative_link(here, key + '.md')})"
        else:
            target = f"*{t['not_written']}*"
        rows.append(f'| <span id="{q.id.lower()}"></span>{q.id} | {q.titles[lang]} | {target} |')
    return "\n".join(rows)


def section_pages(lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """A section's pages in site order (``here`` is the section's ``index.md``)."""
    t = LABELS[lang]
    section = plan.section(here.split("/")[0])
    written = content.written_pages(docs, plan)
    lines = []
    for page in section.pages:
        meta = written.get(f"{section.slug}/{page}")
        if meta is None:
            lines.append(f"1. `{page}` *({t['not_written']})*")
            continue
        ids = " ".join(f"`{i}`" for i in meta.get("source") or [])
        lines.append(f"1. [{meta.get('title', page)}]({page}.md) {ids}".rstrip())
    return "\n".join(lines)


def section_list(lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """The home page's list of sections with how many pages each has."""
    t = LABELS[lang]
    written = content.written_pages(docs, plan)
    lines = []
    for s in plan.sections:
        done = sum(f"{s.slug}/{p}" in written for p in s.pages)
        lines.append(
            f"1. [{s.titles[lang]}]({relative_link(here, f'{s.slug}/index.md')}) · {done} {t['pages']}"
        )
    return "\n".join(lines)


def api_reference(lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """One mkdocstrings block per public module of ``mllm_handbook``, found by walking the package."""
    import mllm_handbook

    names = sorted(m.name for m in pkgutil.iter_modules(mllm_handbook.__path__) if not m.name.startswith("_"))
    return "\n".join(
        f"## `mllm_handbook.{name}` {{ #{name} }}\n\n::: mllm_handbook.{name}\n"
        "    options:\n      show_root_heading: false\n      heading_level: 3\n"
        for name in names
    )


def cite(entry: dict) -> str:
    """One reference line: authors, *title* (short name), venue and year, and a link."""
    authors = entry["authors"]
    names = ", ".join(authors) if len(authors) <= 4 and "et al." not in authors else f"{authors[0]} et al."
    short = f" ({entry['short']})" if entry.get("short") else ""
    venue = f"{entry['venue']} {entry['year']}" if entry.get("venue") else str(entry["year"])
    if entry.get("arxiv"):
        link = f"[arXiv:{entry['arxiv']}](https://arxiv.org/abs/{entry['arxiv']})"
    elif entry.get("doi"):
        link = f"[doi:{entry['doi']}](https://doi.org/{entry['doi']})"
    else:
        link = f"[{urlsplit(entry['url']).netloc.removeprefix('www.')}]({entry['url']})"
    title = entry["title"].rstrip(".")
    end = "" if title.endswith(("?", "!")) else "."
    return f"{names}. *{title}*{short}{end} {venue}. {link}"


def references(keys: list[str], bibliography: dict[str, dict]) -> str:
    """A page's reference list, in the order of its front matter; ``KeyError`` names an unknown key."""
    missing = [key for key in keys if key not in bibliography]
    if missing:
        raise KeyError(f"not in bibliography.yml: {', '.join(missing)}")
    items = "\n".join(f"- {cite(bibliography[key])}" for key in keys)
    return f'<div class="handbook-references" markdown>\n\n{items}\n\n</div>'  # not indexed for search


def origin_note(lang: str, here: str, meta: dict) -> str:
    """The closing line of a question page: the source question(s) it answers, or that it answers none."""
    t = LABELS[lang]
    index = relative_link(here, "source-questions.md")
    if meta.get("source"):
        links = t["sep"].join(f"[{s}]({index}#{s.lower()})" for s in meta["source"])
        line = f"{t['answers']} {links}{t['end']}"
    else:
        line = f"{t['asked']} [{t['home']}]({relative_link(here, 'index.md')}#scope){t['end']}"
    return f"\n\n---\n\n{line}\n{{: .handbook-origin }}\n"


RUN = {
    "zh": '自己运行：`pip install "mllm-handbook=={version}"`，再运行上面的代码（[{name}]({url})）。',
    "en": 'Run it yourself: `pip install "mllm-handbook=={version}"`, then run the code above ([{name}]({url})).',
}
_EXEC_FENCE = re.compile(
    r'^```python exec="on"[^\n]*title="(snippets/[^"]+)"[^\n]*\n(?:.*\n)*?```[ \t]*$', re.M
)


def run_notes(markdown: str, lang: str, version: str, repository: str) -> str:
    """After each executed block: how to run the snippet outside the site, with a pinned install."""

    def note(match: re.Match[str]) -> str:
        name = match.group(1)
        line = RUN[lang].format(version=version, name=name, url=f"{repository}/blob/main/{name}")
        return f"{match.group(0)}\n\n{line}\n{{: .handbook-run }}"

    return _EXEC_FENCE.sub(note, markdown)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def glossary_page(lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """Every term of ``glossary.yml`` under the section of the page that explains it, sorted by English."""
    other = "en" if lang == "zh" else "zh"
    written = content.written_pages(docs, plan)
    blocks = []
    for section in plan.sections:
        terms = [
            t
            for t in glossary.terms(docs.parent.parent / "glossary.yml")
            if t["page"].split("/")[0] == section.slug
        ]
        if not terms:
            continue
        rows = [glossary.HEADERS[lang], "|---|---|---|---|---|"]
        for t in sorted(terms, key=lambda t: t["en"].lower()):
            page = f"[{written[t['page']]['title']}]({relative_link(here, t['page'] + '.md')})"
            name = f'<span id="{glossary.slug(t)}"></span>**{_cell(t[lang])}**'
            cells = [name, _cell(t[other]), _cell(t.get("abbr") or ""), _cell(t["def"][lang]), page]
            rows.append("| " + " | ".join(cells) + " |")
        table = "\n".join(rows)
        blocks.append(f"## {section.titles[lang]} {{ #{section.slug} }}\n\n{_unmarked(table)}")
    return "\n\n".join(blocks)


def reading_list(lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """Every cited work once, under the section that first cites it, with the pages that cite it."""
    written = content.written_pages(docs, plan)
    bibliography = content.bibliography(docs.parent.parent / "bibliography.yml")
    citing: dict[str, list[str]] = {}
    for key, meta in written.items():  # site order
        for ref in meta.get("references") or []:
            citing.setdefault(ref, []).append(key)
    blocks = []
    for section in plan.sections:
        refs = [ref for ref, pages in citing.items() if pages[0].split("/")[0] == section.slug]
        if not refs:
            continue
        items = []
        for ref in sorted(refs, key=lambda r: (bibliography[r]["year"], r)):
            pages = LABELS[lang]["sep"].join(
                f"[{written[p]['title']}]({relative_link(here, p + '.md')})" for p in citing[ref]
            )
            items.append(f"- {cite(bibliography[ref])}  \n  {LABELS[lang]['cited']}{pages}")
        blocks.append(f"## {section.titles[lang]} {{ #{section.slug} }}\n\n{_unmarked(chr(10).join(items))}")
    return "\n\n".join(blocks)


def _unmarked(markdown: str) -> str:
    """Generated lists get no glossary tooltips: they are the glossary and the references themselves."""
    return f'<div class="handbook-glossary" markdown>\n\n{markdown}\n\n</div>'


GENERATORS = {
    "source-index": source_index,
    "section-pages": section_pages,
    "sections": section_list,
    "api-reference": api_reference,
    "glossary": glossary_page,
    "reading-list": reading_list,
}


def expand(markdown: str, lang: str, here: str, docs: Path, plan: content.SiteMap) -> str:
    """Replace every ``<!-- handbook:NAME -->``; an unknown name raises ``KeyError`` naming it."""
    return _PLACEHOLDER.sub(lambda m: GENERATORS[m.group(1)](lang, here, docs, plan), markdown)

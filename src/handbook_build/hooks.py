"""MkDocs hooks for one language's build (``hooks:`` in ``mkdocs.yml``; ``mkdocs.en.yml`` inherits them).

* ``on_config``: the navigation from ``site_map.yml``, the edit links, a fresh snippet state.
* ``on_files``: every page has its twin in the other language, and every question page is in the site map.
* ``on_page_markdown``: generated lists, the line that says which question a page answers, the meta
  description, and the "translation may be out of date" notice.
* ``on_post_build``: redirect pages, and this language's search index (Pagefind).
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from handbook_build import content, freshness, generated, redirects, snippets, urls

log = logging.getLogger("mkdocs.handbook")
#: This build's question pages for the search box's title ranking (``search/pages.json``).
QUESTIONS: dict[str, dict] = {}
SCAFFOLD_MARKER = "TODO(scaffold)"  # what `make new-page` leaves for the author to replace
_SUBHEADING = re.compile(r"^###? (.+)$", re.M)
_ABSTRACT = re.compile(r"^!!! abstract[^\n]*\n((?:[ ]{4}[^\n]*\n|\n)+)", re.M)


def _lang(config) -> str:
    return config.theme["language"]


def _docs_root(config) -> Path:
    """``docs/``, the folder that holds one folder per language."""
    return Path(config.docs_dir).parent


def _plan(config) -> content.SiteMap:
    """``site_map.yml`` next to the config file."""
    return content.site_map(Path(config.config_file_path).resolve().parent / "site_map.yml")


def navigation(plan: content.SiteMap, docs: Path, lang: str) -> list:
    """The nav: home, each section (its index, then its written pages in site order), then the indexes."""
    nav: list = ["index.md"]
    for section in plan.sections:
        pages = [f"{section.slug}/{p}.md" for p in section.pages if (docs / section.slug / f"{p}.md").is_file()]
        nav.append({section.titles[lang]: [f"{section.slug}/index.md", *pages]})
    nav += [name for name in ("source-questions.md", "reference.md") if (docs / name).is_file()]
    return nav


def on_config(config):
    lang = _lang(config)
    config.nav = navigation(_plan(config), Path(config.docs_dir), lang)
    QUESTIONS.clear()
    repository = config.extra.get("repository", "").rstrip("/")
    if repository:  # each language edits its own file
        docs = Path(config.docs_dir).relative_to(Path(config.config_file_path).resolve().parent).as_posix()
        config.edit_uri = f"{repository}/edit/main/{docs}/"
    snippets.start_build()
    return config


def on_files(files, config):
    """Warn (strict then fails) about a page without its twin, or a question page the site map lacks."""
    lang, root = _lang(config), _docs_root(config)
    planned = set(_plan(config).pages())
    for file in files.documentation_pages():
        for other in urls.LANGUAGES:
            if other != lang and not (root / other / file.src_uri).is_file():
                log.warning(f"Page docs/{lang}/{file.src_uri} has no {other} twin: create docs/{other}/{file.src_uri}")
        key = urls.key_of(file.src_uri)
        if key.count("/") == 1 and key not in planned:
            log.warning(f"Page docs/{lang}/{file.src_uri} is not listed in site_map.yml")
    return files


def description(meta: dict, markdown: str) -> str | None:
    """Front-matter ``description``, else the first sentence of the 30-second answer or first paragraph."""
    if meta.get("description"):
        return meta["description"]
    match = _ABSTRACT.search(markdown)
    if match:
        text = " ".join(line.strip() for line in match.group(1).splitlines() if line.strip())
    else:
        body = content.FRONT_MATTER.sub("", markdown)
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip() and p.strip()[0] not in "#<!|-`*"]
        if not paragraphs:
            return None
        text = " ".join(paragraphs[0].split())
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = re.sub(r"[*_`$]", "", text)
    sentence = re.match(r"(.+?(?:。|[.!?](?=\s|$)))", text)
    return (sentence.group(1) if sentence else text)[:300]


def on_page_markdown(markdown, page, config, files):
    lang, src = _lang(config), page.file.src_uri
    root = _docs_root(config)
    snippets.STATE.page = f"docs/{lang}/{src}"
    if markdown.count(SCAFFOLD_MARKER) + str(page.meta.get("title", "")).count(SCAFFOLD_MARKER):
        log.warning(f"Page docs/{lang}/{src} still has {SCAFFOLD_MARKER} placeholders: see CONTRIBUTING.md")
    if lang == freshness.TARGET and (root / freshness.SOURCE / src).is_file():
        if freshness.status(root, src) != freshness.FRESH:
            zh_href = "../" * (page.url.count("/") + 1) + page.url  # from /en/<url> to /<url>
            markdown = freshness.with_notice(markdown, zh_href)
    if "<!-- handbook:references -->" in markdown:
        bibliography = content.bibliography(Path(config.config_file_path).resolve().parent / "bibliography.yml")
        try:
            listed = generated.references(page.meta.get("references") or [], bibliography)
        except KeyError as error:
            log.warning(f"Page docs/{lang}/{src} cites a reference {error.args[0]}")
            listed = ""
        markdown = markdown.replace("<!-- handbook:references -->", listed)
    markdown = generated.expand(markdown, lang, src, Path(config.docs_dir), _plan(config))
    if "source" in page.meta:  # a question page
        markdown += generated.origin_note(lang, src, page.meta)
    text = description(page.meta, markdown)
    if text:  # Material writes it into content="…" without escaping
        page.meta["description"] = html.escape(html.unescape(text), quote=True)
    if "source" in page.meta:
        QUESTIONS[page.url] = {
            "title": page.meta.get("title", ""),
            "section": page.parent.title if page.parent else "",
            "text": text or "",
            "tags": page.meta.get("tags") or [],
            "keywords": page.meta.get("keywords") or [],
            "headings": [re.sub(r"\s*\{.*\}\s*$", "", h) for h in _SUBHEADING.findall(markdown)],
        }
    return markdown


#: What the search index leaves out of a question page: code, figures, formulas, permalinks, the
#: generated origin line and reference list, and the "translation may be out of date" notice.
SEARCH_EXCLUDE = ".highlight, .handbook-figure, math, .headerlink, .handbook-origin, .handbook-references, .handbook-outdated"


def index_for_search(site_dir: Path) -> str:
    """Pagefind over one language's built site: ``<site>/pagefind/``, loaded by the page on first search.

    Only question pages are indexed (``overrides/main.html`` marks their article ``data-pagefind-body``);
    Pagefind reads the language from ``<html lang>`` and segments Chinese itself. Returns its errors.
    """
    command = [sys.executable, "-m", "pagefind", "--site", str(site_dir), "--exclude-selectors", SEARCH_EXCLUDE]
    result = subprocess.run([*command, "--silent"], capture_output=True, text=True)
    return "" if result.returncode == 0 else (result.stdout + result.stderr).strip() or "pagefind failed"


def on_post_build(config):
    lang = _lang(config)
    pages = [{"url": url, **QUESTIONS[url]} for url in sorted(QUESTIONS)]
    (Path(config.site_dir) / "search").mkdir(exist_ok=True)
    (Path(config.site_dir) / "search/pages.json").write_text(json.dumps(pages, ensure_ascii=False), encoding="utf-8")
    error = index_for_search(Path(config.site_dir))
    if error:
        log.warning(f"Search index for docs/{lang} failed: {error}")
    plan = _plan(config)
    found = redirects.problems(plan.redirects, Path(config.docs_dir))
    for problem in found:
        log.warning(problem)
    if not found:
        redirects.write(plan.redirects, Path(config.site_dir), config.site_url or "/", lang)
    stats = os.environ.get("HANDBOOK_STATS")
    if stats:  # read by the build driver and `make bench`
        record = {"lang": lang, "requested": snippets.STATE.requested, "executed": snippets.STATE.executed}
        Path(f"{stats}.{lang}.json").write_text(json.dumps(record), encoding="utf-8")

"""MkDocs hooks: the handbook's build rules, in one place (loaded via ``hooks:`` in mkdocs.yml).

Each event delegates to a small module of :mod:`handbook_site`:

* ``on_config``: route executed Python blocks through :mod:`handbook_site.exec_runner`; drop assets that
  plugins register again on the second-language build.
* ``on_files``: every page exists in both languages, and every question page is in ``site_map.yml``.
* ``on_nav``: order sections and pages as ``site_map.yml`` says, with section titles in the page language.
* ``on_page_markdown``: expand generated content, add the source-question note and the meta description.
* ``on_page_content``: render math to MathML at build time.
* ``on_post_page`` / ``on_post_build``: give each language its own search index.
"""

from __future__ import annotations

import html
import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.plugins import event_priority
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from handbook_site import (
    exec_runner,
    freshness,
    generated,
    mathml,
    redirects,
    scaffold,
    search_split,
    sitemap,
)

log = logging.getLogger("mkdocs.hooks.handbook")
_ABSTRACT = re.compile(r"^!!! abstract[^\n]*\n((?:[ ]{4}[^\n]*\n|\n)+)", re.M)
_reported: set[str] = set()
SEARCH_TERMS = Path(__file__).with_name("search_terms.txt")


def _warn_once(message: str) -> None:
    if message not in _reported:
        _reported.add(message)
        log.warning(message)


def _root(config) -> Path:
    return Path(config.config_file_path).parent


def _load_search_terms() -> None:
    """Teach jieba the domain terms it would split (自回归 -> 自 + 回归), for Material's Chinese index.

    Material's ``jieba_dict_user`` option takes a path relative to the working directory; loading the
    dictionary here works from any directory (and for the test suite's throwaway sites).
    """
    try:
        import jieba
    except ImportError:  # search still works, with jieba's default segmentation
        return
    jieba.setLogLevel(logging.WARNING)
    for line in SEARCH_TERMS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):  # "word frequency tag", as in a jieba user dict
            word, freq, tag = line.split()
            jieba.add_word(word, int(freq), tag)


def on_config(config):
    _load_search_terms()
    exec_runner.start_build(_root(config) / "src" / "mllm_handbook")
    fences = config.mdx_configs.setdefault("pymdownx.superfences", {}).setdefault("custom_fences", [])
    unique = {}
    for fence in fences:
        if fence["name"] in ("python", "py"):
            fence = {**fence, "format": exec_runner.formatter}
        unique[fence["name"]] = fence
    fences[:] = unique.values()
    config.extra_css[:] = list(dict.fromkeys(config.extra_css))
    config.extra_javascript[:] = list(dict.fromkeys(config.extra_javascript))
    return config


def on_files(files, config):
    """Fail (via strict) on a page missing its twin, or a question page the site map does not know."""
    pages = {f.src_uri for f in files.documentation_pages()}
    planned = set(sitemap.planned_pages())
    for src in sorted(pages):
        lang, rest = src.split("/", 1) if "/" in src else ("", src)
        if lang not in sitemap.LANGUAGES:
            _warn_once(f"Page docs/{src} is outside docs/zh and docs/en")
            continue
        for other in sitemap.LANGUAGES:
            if f"{other}/{rest}" not in pages:
                _warn_once(f"Page docs/{src} has no {other} twin: create docs/{other}/{rest}")
        key = sitemap.page_key(src)
        if rest.count("/") == 1 and not rest.endswith("index.md") and key not in planned:
            _warn_once(f"Page docs/{src} is not listed in src/handbook_site/site_map.yml")
    return files


def _ordered_section(section: Section, slug: str, lang: str) -> None:
    meta = next(s for s in sitemap.sections() if s.slug == slug)
    section.title = meta.titles[lang]
    order = {name: i for i, name in enumerate(meta.pages)}

    def rank(item) -> int:
        if isinstance(item, Page) and item.file.src_uri.endswith("/index.md"):
            return -1
        name = item.file.src_uri.rsplit("/", 1)[-1].removesuffix(".md") if isinstance(item, Page) else ""
        return order.get(name, len(order))

    section.children.sort(key=rank)


@event_priority(-110)  # after mkdocs-static-i18n (-100) has reduced the nav to one language
def on_nav(nav: Navigation, config, files):
    """Sections in site-map order, then the source-question index and the API reference."""
    lang = config.theme["language"]
    slugs = [s.slug for s in sitemap.sections()]

    def slug_of(item) -> str:
        page = item if isinstance(item, Page) else next(iter(item.children), None)
        return sitemap.page_key(page.file.src_uri).split("/")[0] if isinstance(page, Page) else ""

    def rank(item) -> tuple[int, int]:
        slug = slug_of(item)
        if (
            isinstance(item, Page)
            and item.file.src_uri.count("/") == 1
            and item.file.src_uri.endswith("/index.md")
        ):
            return (0, 0)  # the language's home page
        if slug in slugs:
            return (1, slugs.index(slug))
        return (2, 0 if slug == "source-questions" else 1)

    for item in nav.items:
        if isinstance(item, Section) and slug_of(item) in slugs:
            _ordered_section(item, slug_of(item), lang)
    nav.items.sort(key=rank)
    pages = [p for p in _walk(nav.items) if isinstance(p, Page)]
    for previous, page, following in zip([None, *pages[:-1]], pages, [*pages[1:], None], strict=True):
        page.previous_page, page.next_page = previous, following
    nav.pages = pages
    return nav


def _walk(items):
    for item in items:
        yield item
        yield from _walk(getattr(item, "children", None) or [])


def _description(meta: dict, markdown: str) -> str | None:
    """Front-matter ``description``, else the first sentence of the 30-second answer."""
    if meta.get("description"):
        return meta["description"]
    match = _ABSTRACT.search(markdown)
    if match:
        text = " ".join(line.strip() for line in match.group(1).splitlines() if line.strip())
    else:  # pages without a 30-second answer (home, section indexes): their first paragraph
        body = sitemap.FRONT_MATTER.sub("", markdown)
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip() and p.strip()[0] not in "#<!|-`"]
        if not paragraphs:
            return None
        text = " ".join(paragraphs[0].split())
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = re.sub(r"[*_`$]", "", text)
    sentence = re.match(r"(.+?(?:。|[.!?](?=\s|$)))", text)
    return (sentence.group(1) if sentence else text)[:300]


def on_page_markdown(markdown: str, page: Page, config, files):
    src = page.file.src_uri
    lang, here = sitemap.language_of(src), src.split("/", 1)[1]
    snippets_dir = _root(config) / "snippets"
    includes = {
        name: (snippets_dir / name).read_text(encoding="utf-8")
        for name in sitemap.INCLUDE.findall(markdown)
        if (snippets_dir / name).is_file()
    }
    exec_runner.start_page(f"docs/{src}", includes)
    mkdocstrings = config.plugins.get("mkdocstrings")
    if mkdocstrings is not None:  # labels such as "Parameters" in the page's language
        mkdocstrings.handlers._locale = lang
    docs_lang_dir = Path(config.docs_dir) / lang
    scaffold.check_page(markdown, page.meta, f"docs/{src}")  # warns while `make new-page` placeholders remain
    markdown = freshness.outdated_notice(markdown, src, page.url, Path(config.docs_dir))  # en pages only
    markdown = generated.expand(markdown, lang, here, docs_lang_dir)
    if page.meta.get("source"):
        markdown += generated.source_note(lang, here, page.meta["source"])
    description = _description(page.meta, markdown)
    if description:  # Material writes it into content="..." without escaping
        page.meta["description"] = html.escape(html.unescape(description), quote=True)
    return markdown


def on_page_content(html: str, page: Page, config, files):
    def report(tex: str, error: Exception) -> None:
        log.warning("Math on page 'docs/%s' could not be rendered (%s): %s", page.file.src_uri, error, tex)

    return mathml.render_math(html, report)


_SWITCHER_LINK = re.compile(r'<a href="(/[^"]*)" hreflang="[^"]*" class="md-select__link">')
_HEAD_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


def _relative_switcher_links(output: str, page: Page, config) -> str:
    """Make the language switcher's absolute links (mkdocs-static-i18n uses them on the home pages,
    built from site_url) relative, so they work under any path the site is served from."""
    site_path = urlsplit(config.site_url or "/").path

    def relative(match: re.Match[str]) -> str:
        href = match.group(1)
        if not href.startswith(site_path):
            return match.group(0)
        return match.group(0).replace(
            f'"{href}"', f'"{get_relative_url(href[len(site_path) :] or ".", page.url or ".")}"'
        )

    return _SWITCHER_LINK.sub(relative, output)


def on_post_page(output: str, page: Page, config):
    # Material prefetches `sitemap.xml` next to every <link rel="alternate">, expecting language roots;
    # mkdocs-static-i18n points them at the page itself, so each page load made two failing requests and
    # Material's click handler sent the switcher to the other language's home page. The switcher's own
    # links already lead to the twin page.
    output = _HEAD_ALTERNATE.sub("", output)
    output = _relative_switcher_links(output, page, config)
    return search_split.point_search_at_language_root(output, sitemap.language_of(page.file.src_uri))


@event_priority(-110)  # after mkdocs-static-i18n (-100) has built every language and merged the index
def on_post_build(config):
    search_split.split_index(Path(config.site_dir), sitemap.LANGUAGES, sitemap.DEFAULT_LANGUAGE)
    redirects.write_redirects(config)  # stubs at the old paths listed under `redirects:` in site_map.yml
    stats_path = os.environ.get("HANDBOOK_EXEC_STATS")
    if stats_path:
        exec_runner.write_stats(Path(stats_path))
    if exec_runner.STATE.failures:
        log.warning("%d snippet(s) failed; see the messages above", exec_runner.STATE.failures)

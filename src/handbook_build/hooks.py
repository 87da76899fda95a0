"""MkDocs hooks for one language's build (``hooks:`` in ``mkdocs.yml``; ``mkdocs.en.yml`` inherits them).

* ``on_startup``: under ``mkdocs serve``, a snippet worker warms up in the background.
* ``on_config``: the navigation from ``site_map.yml``, the edit links, a fresh snippet state.
* ``on_files``: every page has its twin in the other language and every question page is in the site map;
  in an incremental build, the pages whose inputs changed are marked for rendering.
* ``on_page_markdown``: the generated reference list and other generated lists, the line that says which
  question a page answers, the meta description, and the "translation may be out of date" notice.
* ``on_post_build``: redirect pages and the search data.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from handbook_build import card, content, freshness, generated, incremental, redirects, search, snippets, urls

log = logging.getLogger("mkdocs.handbook")
SCAFFOLD_MARKER = "TODO(scaffold)"  # what `make new-page` leaves for the author to replace
BUILD = {"keys": {}, "rendered": 0, "serve": False}  # incremental keys, pages rendered, under `mkdocs serve`


def _lang(config) -> str:
    return config.theme["language"]


def _root(config) -> Path:
    """The folder of the config file: site_map.yml, bibliography.yml and snippets/ sit there."""
    return Path(config.config_file_path).resolve().parent


def _plan(config) -> content.SiteMap:
    return content.site_map(_root(config) / "site_map.yml")


def navigation(plan: content.SiteMap, docs: Path, lang: str) -> list:
    """The nav: home, each section (its index, then its written pages in site order), then the indexes."""
    nav: list = ["index.md"]
    for section in plan.sections:
        written = [p for p in section.pages if (docs / section.slug / f"{p}.md").is_file()]
        nav.append(
            {section.titles[lang]: [f"{section.slug}/index.md", *(f"{section.slug}/{p}.md" for p in written)]}
        )
    indexes = ("glossary.md", "reading-list.md", "source-questions.md", "reference.md")
    nav += [name for name in indexes if (docs / name).is_file()]
    return nav


def on_startup(command, dirty):
    """Under ``mkdocs serve``, start the snippet worker now, so the first edited snippet runs at once."""
    BUILD["serve"] = command == "serve"
    if BUILD["serve"]:
        snippets.warm_up()


def on_config(config):
    config.nav = navigation(_plan(config), Path(config.docs_dir), _lang(config))
    config.extra["language_roots"] = urls.language_roots(config.site_url or "/", _lang(config))
    # mkdocstrings links its stylesheet from every page; only the API reference uses it (main.html links it
    # there), and every other first visit would download it.
    api_css = config.plugins["mkdocstrings"].css_filename
    config.extra_css.remove(api_css)
    config.extra["api_css"] = api_css
    # The link-preview card is drawn once, at the site's root; both languages' pages point to it.
    config.extra["card"] = config.extra["language_roots"][urls.DEFAULT_LANGUAGE] + "assets/card.png"
    # INHERIT replaces the markdown_extensions list instead of merging it, so the English config cannot
    # set the glossary's language; each build sets it from its theme.language.
    glossary = config.mdx_configs.setdefault("handbook_build.glossary", {})
    glossary.update(lang=_lang(config), path=str(_root(config) / "glossary.yml"))
    repository = config.extra.get("repository", "").rstrip("/")
    if repository:  # each language edits its own file
        config.edit_uri = (
            f"{repository}/edit/main/{Path(config.docs_dir).relative_to(_root(config)).as_posix()}/"
        )
    snippets.start_build()
    incremental.quiet_dirty_notice()
    BUILD["rendered"] = 0
    return config


def on_files(files, config):
    """Warn (strict then fails) about a page without its twin, or a question page the site map lacks."""
    lang, docs_root = _lang(config), Path(config.docs_dir).parent
    planned = set(_plan(config).pages())
    for file in files.documentation_pages():
        for other in urls.LANGUAGES:
            if other != lang and not (docs_root / other / file.src_uri).is_file():
                log.warning(
                    f"Page docs/{lang}/{file.src_uri} has no {other} twin: create docs/{other}/{file.src_uri}"
                )
        key = urls.key_of(file.src_uri)
        if key.count("/") == 1 and key not in planned:
            log.warning(f"Page docs/{lang}/{file.src_uri} is not listed in site_map.yml")
    BUILD["keys"] = incremental.invalidate(config, files)
    return files


def references(markdown: str, page, config) -> str:
    """The page's reference list, generated from its front matter and ``bibliography.yml``."""
    try:
        listed = generated.references(
            page.meta.get("references") or [], content.bibliography(_root(config) / "bibliography.yml")
        )
    except KeyError as error:
        log.warning(f"Page docs/{_lang(config)}/{page.file.src_uri} cites a reference {error.args[0]}")
        listed = ""
    return markdown.replace("<!-- handbook:references -->", listed)


def on_page_markdown(markdown, page, config, files):
    lang, src = _lang(config), page.file.src_uri
    BUILD["rendered"] += 1
    snippets.STATE.page = f"docs/{lang}/{src}"
    if markdown.count(SCAFFOLD_MARKER) + str(page.meta.get("title", "")).count(SCAFFOLD_MARKER):
        log.warning(f"Page docs/{lang}/{src} still has {SCAFFOLD_MARKER} placeholders: see CONTRIBUTING.md")
    if freshness.outdated(Path(config.docs_dir).parent, lang, src):
        zh_href = "../" * (page.url.count("/") + 1) + page.url  # from /en/<url> to /<url>
        markdown = freshness.with_notice(markdown, zh_href)
    markdown = references(markdown, page, config)
    markdown = generated.expand(markdown, lang, src, Path(config.docs_dir), _plan(config))
    markdown = generated.run_notes(
        markdown, lang, content.package_version(), config.extra.get("repository", "")
    )
    if "source" in page.meta:  # a question page
        markdown += generated.origin_note(lang, src, page.meta)
    text = content.description(page.meta, markdown)
    if text:  # Material writes it into content="…" without escaping
        page.meta["description"] = html.escape(html.unescape(text), quote=True)
    return markdown


def on_post_build(config):
    lang, site = _lang(config), Path(config.site_dir)
    plan = _plan(config)
    found = redirects.problems(plan.redirects, Path(config.docs_dir))
    for problem in found:
        log.warning(problem)
    if not found:
        redirects.write(plan.redirects, site, config.site_url or "/", lang)
    if lang == urls.DEFAULT_LANGUAGE:  # the card (both languages link it) and robots.txt live at the root
        if not (site / "assets/card.png").is_file():
            card.draw(site / "assets/card.png")
        roots = config.extra["language_roots"].values()
        sitemaps = "".join(f"Sitemap: {root}sitemap.xml\n" for root in roots)
        (site / "robots.txt").write_text(f"User-agent: *\nAllow: /\n\n{sitemaps}", encoding="utf-8")
    # Under `mkdocs serve` the index is built once; rebuilding it on every save would slow the edit loop.
    if not (site / "pagefind").is_dir() or (BUILD["rendered"] and not BUILD["serve"]):
        error = search.index(site)
        if error:
            log.warning(f"Search index for docs/{lang} failed: {error}")
    search.write_pages(site, search.question_pages(Path(config.docs_dir), plan, lang))
    incremental.record(config, BUILD["keys"])
    snippets.write_stats(lang)

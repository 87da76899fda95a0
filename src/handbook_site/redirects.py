"""Stable links: a page that moves keeps its old URL working, in both languages.

Redirects are configured in one place, the ``redirects:`` mapping of ``src/handbook_site/site_map.yml``
(old ``section/slug`` -> new ``section/slug``). After the build, :func:`write_redirects` (called from
``hooks.on_post_build``) writes a small HTML page at the old URL of every language (``/<old>/`` and
``/en/<old>/``): a meta refresh, a canonical link to the new URL, a script that keeps the ``#anchor``, and a
plain link. A redirect whose target page does not exist, whose old path is still a page, or that points at
another redirect is a warning, which fails the strict build.
"""

from __future__ import annotations

import html
import logging
import posixpath
import re
from pathlib import Path

import yaml

from handbook_site import sitemap

log = logging.getLogger("mkdocs.hooks.handbook")
_PATH = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*$")
MOVED = {
    "zh": ("页面已移动", "本页已移动到新地址："),
    "en": ("Page moved", "This page has moved to "),
}


def load(site_map: Path = sitemap.SITE_MAP) -> dict[str, str]:
    """The ``redirects:`` mapping of the site map (old path -> new path), or ``{}``."""
    data = yaml.safe_load(site_map.read_text(encoding="utf-8")) or {}
    return {str(old).strip("/"): str(new).strip("/") for old, new in (data.get("redirects") or {}).items()}


def _page_exists(docs_dir: Path, lang: str, path: str) -> bool:
    return (docs_dir / lang / f"{path}.md").is_file() or (docs_dir / lang / path / "index.md").is_file()


def problems(redirects: dict[str, str], docs_dir: Path) -> list[str]:
    """What is wrong with the redirects, one message per problem (empty if all are fine)."""
    where = "src/handbook_site/site_map.yml"
    found = []
    for old, new in redirects.items():
        name = f"Redirect '{old}' -> '{new}' in {where}"
        if not _PATH.match(old) or not _PATH.match(new):
            found.append(f"{name}: paths must look like section/slug (lowercase, kebab-case)")
            continue
        if new in redirects:
            found.append(f"{name}: the target is itself redirected; point to '{redirects[new]}' instead")
        for lang in sitemap.LANGUAGES:
            if not _page_exists(docs_dir, lang, new):
                found.append(f"{name}: the target page docs/{lang}/{new}.md does not exist")
            if _page_exists(docs_dir, lang, old):
                found.append(f"{name}: docs/{lang}/{old}.md still exists; a redirect must not hide a page")
    return found


def stub(href: str, canonical: str | None, lang: str) -> str:
    """The redirect page: refresh, canonical, a script that keeps the anchor, and a plain link."""
    title, text = MOVED[lang]
    link = html.escape(href, quote=True)
    canonical_tag = (
        f'<link rel="canonical" href="{html.escape(canonical, quote=True)}">\n' if canonical else ""
    )
    return (
        "<!doctype html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        '<meta name="robots" content="noindex">\n'
        f"{canonical_tag}"
        f'<meta http-equiv="refresh" content="0; url={link}">\n'
        f"<script>location.replace({href!r} + location.search + location.hash)</script>\n"
        f'</head>\n<body>\n<p>{text}<a href="{link}">{link}</a></p>\n</body>\n</html>\n'
    )


def write_redirects(config) -> list[Path]:
    """Write a redirect page at every old path, in every language; warn about broken redirects."""
    redirects = load()
    if not redirects:
        return []
    site_dir = Path(config.site_dir)
    root = site_dir.parent if site_dir.name in sitemap.LANGUAGES else site_dir
    docs_dir = Path(config.docs_dir)
    found = problems(redirects, docs_dir)
    for message in found:
        log.warning(message)
    if found:
        return []
    directory_urls = config.use_directory_urls
    site_url = config.site_url or ""
    written = []
    for lang in sitemap.LANGUAGES:
        prefix = "" if lang == sitemap.DEFAULT_LANGUAGE else f"{lang}/"
        for old, new in redirects.items():
            old_url = f"{prefix}{old}/" if directory_urls else f"{prefix}{old}.html"
            new_url = f"{prefix}{new}/" if directory_urls else f"{prefix}{new}.html"
            base = old_url if directory_urls else posixpath.dirname(old_url) + "/"
            href = posixpath.relpath("/" + new_url, "/" + base) + ("/" if directory_urls else "")
            canonical = site_url.rstrip("/") + "/" + new_url if site_url else None
            path = root / (f"{old_url}index.html" if directory_urls else old_url)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(stub(href, canonical, lang), encoding="utf-8")
            written.append(path)
    return written

"""Stable links: a page that moves keeps its old URL working.

Redirects live in one place, ``redirects:`` in ``site_map.yml`` (old ``section/slug`` -> new
``section/slug``, for every language). After each language's build, :func:`write` puts a small page at the
old URL: a meta refresh, a canonical link, a script that keeps the ``#anchor``, and a plain link. A redirect
whose target is missing, whose old path is still a page, or that points at another redirect is reported, and
a strict build fails.
"""

from __future__ import annotations

import html
import posixpath
import re
from pathlib import Path

MOVED = {
    "zh": ("页面已移动", "本页已移动到新地址："),
    "en": ("Page moved", "This page has moved to "),
}
_PATH = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*$")


def problems(redirects: dict[str, str], docs: Path) -> list[str]:
    """What is wrong with the redirects for the language whose docs folder is ``docs``."""

    def exists(path: str) -> bool:
        return (docs / f"{path}.md").is_file() or (docs / path / "index.md").is_file()

    found = []
    for old, new in redirects.items():
        name = f"Redirect '{old}' -> '{new}' in site_map.yml"
        if not _PATH.match(old) or not _PATH.match(new):
            found.append(f"{name}: paths must look like section/slug (lowercase, kebab-case)")
        elif new in redirects:
            found.append(f"{name}: the target is itself redirected; point to '{redirects[new]}' instead")
        elif not exists(new):
            found.append(f"{name}: the target page {docs.as_posix()}/{new}.md does not exist")
        elif exists(old):
            found.append(f"{name}: {docs.as_posix()}/{old}.md still exists; a redirect must not hide a page")
    return found


def stub(href: str, canonical: str, lang: str) -> str:
    """The redirect page: refresh, canonical, a script that keeps the anchor, and a plain link."""
    title, text = MOVED[lang]
    link = html.escape(href, quote=True)
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        '<meta name="robots" content="noindex">\n'
        f'<link rel="canonical" href="{html.escape(canonical, quote=True)}">\n'
        f'<meta http-equiv="refresh" content="0; url={link}">\n'
        f"<script>location.replace({href!r} + location.search + location.hash)</script>\n"
        f'</head>\n<body>\n<p>{text}<a href="{link}">{link}</a></p>\n</body>\n</html>\n'
    )


def write(redirects: dict[str, str], site_dir: Path, site_url: str, lang: str) -> list[Path]:
    """A stub at ``<old>/index.html`` of one language's site for every redirect."""
    written = []
    for old, new in redirects.items():
        href = posixpath.relpath(f"/{new}", f"/{old}") + "/"
        path = site_dir / old / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stub(href, f"{site_url.rstrip('/')}/{new}/", lang), encoding="utf-8")
        written.append(path)
    return written

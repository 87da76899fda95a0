"""The one map between a page's language, its source file and its URL.

A page is named by its *key*: ``section/slug`` for a question page, ``section`` for a section index,
``''`` for the home page, ``reference`` for a top-level page. In every language the key gives

* the source ``docs/<lang>/<key>.md`` (or ``docs/<lang>/<key>/index.md``), and
* the URL path ``<key>/`` under the language's root: ``/`` for Chinese, ``/en/`` for English.
"""

from __future__ import annotations

from pathlib import Path

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def root(lang: str) -> str:
    """The language's root relative to the site root: ``''`` for zh, ``'en/'`` for en."""
    return "" if lang == DEFAULT_LANGUAGE else f"{lang}/"


def url_path(lang: str, key: str) -> str:
    """``('en', 'transformer/swiglu')`` -> ``'en/transformer/swiglu/'``; the home page is the root."""
    return root(lang) + (f"{key}/" if key else "")


def split_url_path(path: str) -> tuple[str, str]:
    """The inverse of :func:`url_path`: ``'en/transformer/swiglu/'`` -> ``('en', 'transformer/swiglu')``."""
    path = path.strip("/")
    head, _, rest = path.partition("/")
    if head in LANGUAGES and head != DEFAULT_LANGUAGE:
        return head, rest
    return DEFAULT_LANGUAGE, path


def key_of(src_uri: str) -> str:
    """A source path inside a language's docs folder -> key: ``'a/b.md'`` -> ``'a/b'``, ``'a/index.md'``
    -> ``'a'``, ``'index.md'`` -> ``''``."""
    key = src_uri.removesuffix(".md")
    return "" if key == "index" else key.removesuffix("/index")


def source(docs: Path, lang: str, key: str) -> Path | None:
    """The Markdown file of ``key`` in ``docs/<lang>``, or ``None``."""
    for rel in (f"{key}.md", f"{key}/index.md") if key else ("index.md",):
        if (docs / lang / rel).is_file():
            return docs / lang / rel
    return None


def language_site_url(site_url: str, lang: str) -> str:
    """The absolute URL of a language's root from the site's root URL."""
    return site_url.rstrip("/") + "/" + root(lang)


def language_roots(site_url: str, lang: str) -> dict[str, str]:
    """Every language's root URL, from the ``site_url`` of the build of ``lang``."""
    base = site_url.rstrip("/") + "/"
    base = base.removesuffix(root(lang)) if root(lang) else base
    return {other: language_site_url(base, other) for other in LANGUAGES}

"""The site's structure, read from ``site_map.yml`` and from each page's front matter.

Everything generated (navigation order, section page lists, the source-question index, the note under each
page that says which source question it answers) comes from here, so no list is kept by hand twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

SITE_MAP = Path(__file__).resolve().parents[2] / "site_map.yml"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
# The two Markdown patterns every tool here needs: YAML front matter, and a pymdownx.snippets include line.
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
INCLUDE = re.compile(r'^[ \t]*--8<--[ \t]+"([^"]+)"[ \t]*$', re.M)


@dataclass(frozen=True)
class Section:
    slug: str
    titles: dict[str, str]
    pages: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    id: str
    page: str
    titles: dict[str, str]


@cache
def load(path: Path = SITE_MAP) -> tuple[tuple[Section, ...], tuple[Question, ...]]:
    """Sections (in site order) and source questions (in source order)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sections = tuple(
        Section(s["slug"], {lang: s[lang] for lang in LANGUAGES}, tuple(s["pages"])) for s in data["sections"]
    )
    questions = tuple(
        Question(q["id"], q["page"], {lang: q[lang] for lang in LANGUAGES}) for q in data["questions"]
    )
    return sections, questions


def sections() -> tuple[Section, ...]:
    return load()[0]


def questions() -> tuple[Question, ...]:
    return load()[1]


def planned_pages() -> list[str]:
    """Every planned page as ``section/slug``, in site order."""
    return [f"{s.slug}/{page}" for s in sections() for page in s.pages]


def front_matter(text: str) -> dict:
    """The YAML front matter of a Markdown page, or ``{}``."""
    match = FRONT_MATTER.match(text)
    return (yaml.safe_load(match.group(1)) or {}) if match else {}


def read_front_matter(path: Path) -> dict:
    return front_matter(path.read_text(encoding="utf-8"))


def language_of(src_uri: str) -> str:
    """``zh/transformer/normalization.md`` -> ``zh``."""
    return src_uri.split("/", 1)[0]


def page_key(src_uri: str) -> str:
    """``zh/transformer/normalization.md`` -> ``transformer/normalization``."""
    return src_uri.split("/", 1)[1].removesuffix(".md").removesuffix("/index")


def written_pages(docs_lang_dir: Path) -> dict[str, dict]:
    """Front matter of every question page that exists in one language, keyed by ``section/slug``."""
    pages = {}
    for key in planned_pages():
        path = docs_lang_dir / f"{key}.md"
        if path.exists():
            pages[key] = read_front_matter(path)
    return pages

"""The handbook's content configuration: ``site_map.yml`` next to ``mkdocs.yml``, and page front matter.

Everything generated (the navigation, the section lists, the source-question index, the note under each
page that says which source question it answers, redirects) comes from here, so no list is kept twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from handbook_build.urls import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
SITE_MAP = ROOT / "site_map.yml"
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
#: A pymdownx.snippets include line: ``--8<-- "section/slug.py"``.
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


@dataclass(frozen=True)
class SiteMap:
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]
    redirects: dict[str, str]

    def pages(self) -> list[str]:
        """Every planned question page as ``section/slug``, in site order."""
        return [f"{s.slug}/{page}" for s in self.sections for page in s.pages]

    def section(self, slug: str) -> Section:
        return next(s for s in self.sections if s.slug == slug)


@cache
def site_map(path: Path = SITE_MAP) -> SiteMap:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return SiteMap(
        sections=tuple(
            Section(s["slug"], {lang: s[lang] for lang in LANGUAGES}, tuple(s["pages"]))
            for s in data["sections"]
        ),
        questions=tuple(
            Question(q["id"], q["page"], {lang: q[lang] for lang in LANGUAGES}) for q in data["questions"]
        ),
        redirects={str(a).strip("/"): str(b).strip("/") for a, b in (data.get("redirects") or {}).items()},
    )


def front_matter(text: str) -> dict:
    """The YAML front matter of a Markdown page, or ``{}``."""
    match = FRONT_MATTER.match(text)
    return (yaml.safe_load(match.group(1)) or {}) if match else {}


@cache
def package_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The published version of mllm_handbook (``[project] version`` in pyproject.toml)."""
    match = re.search(r'^version = "([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
    return match.group(1)


@cache
def bibliography(path: Path) -> dict[str, dict]:
    """``bibliography.yml``: key -> authors, title, venue, year and arXiv id, DOI or URL."""
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@cache
def _front_matter_of(path: Path, mtime_ns: int) -> dict:
    return front_matter(path.read_text(encoding="utf-8"))


def read_front_matter(path: Path) -> dict:
    """A file's front matter, parsed once per version of the file."""
    return _front_matter_of(path, path.stat().st_mtime_ns)


def written_pages(docs_lang_dir: Path, plan: SiteMap | None = None) -> dict[str, dict]:
    """Front matter of every planned question page written in one language, keyed by ``section/slug``."""
    plan = plan or site_map()
    pages = {}
    for key in plan.pages():
        path = docs_lang_dir / f"{key}.md"
        if path.is_file():
            pages[key] = read_front_matter(path)
    return pages


_ABSTRACT = re.compile(r"^!!! abstract[^\n]*\n((?:[ ]{4}[^\n]*\n|\n)+)", re.M)


def description(meta: dict, markdown: str) -> str | None:
    """Front-matter ``description``, else the first sentence of the 30-second answer or first paragraph."""
    if meta.get("description"):
        return meta["description"]
    match = _ABSTRACT.search(markdown)
    if match:
        text = " ".join(line.strip() for line in match.group(1).splitlines() if line.strip())
    else:
        body = FRONT_MATTER.sub("", markdown)
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip() and p.strip()[0] not in "#<!|-`*"]
        if not paragraphs:
            return None
        text = " ".join(paragraphs[0].split())
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = re.sub(r"[*_`$]", "", text)
    sentence = re.match(r"(.+?(?:。|[.!?](?=\s|$)))", text)
    return (sentence.group(1) if sentence else text)[:300]

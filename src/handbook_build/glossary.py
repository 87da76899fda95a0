"""The bilingual glossary: one data file (``glossary.yml``), a page per language, and first-use tooltips.

Each term in ``glossary.yml`` has ``zh``, ``en``, an optional ``abbr``, a one-line ``def`` per language and
the ``page`` that explains it. From that file the build makes:

* the glossary page of each language (``<!-- handbook:glossary -->`` in ``docs/<lang>/glossary.md``),
  grouped by the section of the explaining page, each term with a stable anchor ``#term-<slug>``;
* on every page, the **first use** of each term becomes ``<abbr title="…">``, which Material's
  ``content.tooltips`` shows as a tooltip: the other language's term and the one-line definition.

The tooltips come from a Python-Markdown tree processor (``handbook_build.glossary`` in mkdocs.yml), so
code, links, headings, math and the generated lists are never touched.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from xml.etree import ElementTree

from markdown import Extension
from markdown.treeprocessors import Treeprocessor

from handbook_build import content

GLOSSARY = content.ROOT / "glossary.yml"
SKIP_TAGS = {"code", "pre", "a", "abbr", "math", "script", "style", "h1", "h2", "h3", "h4", "h5", "h6"}
SKIP_CLASSES = {"handbook-glossary", "handbook-references", "handbook-run", "handbook-origin"}
HEADERS = {
    "zh": "| 术语 | English | 缩写 | 释义 | 讲解页面 |",
    "en": "| Term | 中文 | Abbr. | Definition | Explained in |",
}


def terms(path: Path = GLOSSARY) -> list[dict]:
    return content.load_yaml(path)["terms"]


def slug(term: dict) -> str:
    """The term's anchor on the glossary page, the same in both languages."""
    return "term-" + re.sub(r"[^a-z0-9]+", "-", term["en"].lower()).strip("-")


def spoken(name: str) -> str:
    """A term as it appears in prose: without a parenthesised note such as ``(mrope_section)``."""
    return re.sub(r"\s*[（(][^）)]*[）)]\s*$", "", name).strip()


def tooltip(term: dict, lang: str) -> str:
    """The other language's name (and abbreviation), then the definition in the page's language."""
    other = spoken(term["en" if lang == "zh" else "zh"])
    abbr = f" ({term['abbr']})" if term.get("abbr") and term["abbr"] not in other else ""
    colon = "：" if lang == "zh" else ": "
    return f"{other}{abbr}{colon}{term['def'][lang]}"


def pattern(term: dict, lang: str) -> str:
    """What counts as a use: the term in the page's language, or its abbreviation, as a whole word.

    A one-character Chinese term (键, 值) is left to its abbreviation: it occurs inside too many words.
    """
    names = [spoken(term[lang]), *([term["abbr"]] if term.get("abbr") else [])]
    alternatives = []
    for name in sorted(set(names), key=len, reverse=True):
        word = re.escape(name)
        if re.search(r"[\u3400-\u9fff]", name):
            if len(name) > 1:
                alternatives.append(word)
        else:
            flags = "(?i:" + word + ")" if name != term.get("abbr") else word
            alternatives.append(rf"(?<![A-Za-z0-9_-]){flags}(?:e?s)?(?![A-Za-z0-9_-])")
    return "|".join(alternatives)


def aliases(text: str, lang: str, path: Path = GLOSSARY) -> list[str]:
    """The other names (other language, abbreviation) of the terms ``text`` uses: "MLLM" gives
    "多模态大模型", so the search finds a page by whichever name the reader types."""
    regex, entries = matcher(lang, path)
    found = {int(m.lastgroup[1:]) for m in regex.finditer(text)}
    names = [spoken(entries[i][key]) for i in sorted(found) for key in ("zh", "en")]
    names += [entries[i]["abbr"] for i in sorted(found) if entries[i].get("abbr")]
    return sorted({n for n in names if n.lower() not in text.lower()})


@functools.cache
def _matcher(lang: str, path: Path, mtime_ns: int) -> tuple[re.Pattern[str], list[dict]]:
    entries = [t for t in terms(path) if pattern(t, lang)]
    entries.sort(key=lambda t: -max(len(spoken(t[lang])), len(t.get("abbr") or "")))
    groups = "|".join(f"(?P<t{i}>{pattern(t, lang)})" for i, t in enumerate(entries))
    return re.compile(groups), entries


def matcher(lang: str, path: Path = GLOSSARY) -> tuple[re.Pattern[str], list[dict]]:
    """One regex over every term, longest names first, so "自注意力" wins over "注意力"."""
    return _matcher(lang, path, path.stat().st_mtime_ns)


class FirstUse(Treeprocessor):
    """Wrap each term's first use on the page in ``<abbr title="…">``."""

    def __init__(self, md, lang: str, path: Path):
        super().__init__(md)
        self.lang, self.regex, self.entries = lang, *matcher(lang, path)

    def run(self, root: ElementTree.Element) -> None:
        self.used: set[int] = set()
        self.visit(root)

    def visit(self, element: ElementTree.Element) -> None:
        if element.tag in SKIP_TAGS or SKIP_CLASSES & set(element.get("class", "").split()):
            return
        element.text = self.mark(element.text, element, 0)
        for child in list(element):
            self.visit(child)
            child.tail = self.mark(child.tail, element, list(element).index(child) + 1)

    def mark(self, text: str | None, parent: ElementTree.Element, index: int) -> str | None:
        """``text`` up to its first new term, which becomes an ``<abbr>`` inserted at ``index``."""
        for match in self.regex.finditer(text or ""):
            number = int(match.lastgroup[1:])
            if number in self.used:
                continue
            self.used.add(number)
            abbr = ElementTree.Element("abbr", {"title": tooltip(self.entries[number], self.lang)})
            abbr.text = match.group(0)
            parent.insert(index, abbr)
            abbr.tail = self.mark(text[match.end() :], parent, index + 1)
            return text[: match.start()]
        return text


class GlossaryExtension(Extension):
    def __init__(self, **kwargs):
        self.config = {
            "lang": ["zh", "the pages' language"],
            "path": [str(GLOSSARY), "the glossary data file"],
        }
        super().__init__(**kwargs)

    def extendMarkdown(self, md):  # noqa: N802 - Python-Markdown's name
        processor = FirstUse(md, self.getConfig("lang"), Path(self.getConfig("path")))
        md.treeprocessors.register(processor, "handbook-glossary", 15)  # after inline markup (20)


def makeExtension(**kwargs):  # noqa: N802 - Python-Markdown's entry point
    return GlossaryExtension(**kwargs)

"""The bilingual glossary: one data file (``glossary.yml``), a page per language, and first-use tooltips.

Each term in ``glossary.yml`` has ``zh``, ``en``, an optional ``abbr``, a one-line ``def`` per language and
the ``page`` that explains it. From that file the build makes:

* the glossary page of each language (``<!-- handbook:glossary -->`` in ``docs/<lang>/glossary.md``),
  grouped by the section of the explaining page, each term with a stable anchor ``#term-<slug>``;
* on every page, the **first use** of each term becomes ``<abbr title="…">``, which Material's
  ``content.tooltips`` shows as a tooltip: the other language's term and the one-line definition.
  Docstrings on the API reference get none: mkdocstrings converts each docstring as a document of its own,
  so every docstring would repeat the tooltips (1,118 of them on the reference page, 10 % of its HTML).

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


def names(term: dict, lang: str) -> list[str]:
    """What counts as a use: the term in the page's language, or its abbreviation.

    A one-character Chinese term (键, 值) is left to its abbreviation: it occurs inside too many words.
    """
    found = [spoken(term[lang]), *([term["abbr"]] if term.get("abbr") else [])]
    return [n for n in dict.fromkeys(found) if len(n) > 1 or not _CJK.search(n)]


def _trie(words: list[str]) -> str:
    """A regex for any of ``words`` as a prefix tree: fast, and it tries the longer word first."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def regex(node: dict) -> str:
        branches = [re.escape(char) + regex(child) for char, child in sorted(node.items()) if char]
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return ("(?:" + body + ")?" if "" in node else body) if branches else ""

    return regex(tree)


_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9_-]")


@functools.cache
def _matcher(lang: str, path: Path, mtime_ns: int) -> tuple[re.Pattern[str], dict[str, tuple[int, str]]]:
    return matcher(terms(path), lang)


def matcher(entries: list[dict], lang: str) -> tuple[re.Pattern[str], dict[str, tuple[int, str]]]:
    """One prefix-tree regex over every name, and each lowercased name's (term number, name)."""
    lookup: dict[str, tuple[int, str]] = {}
    for number, term in enumerate(entries):
        for name in names(term, lang):
            lookup.setdefault(name.lower(), (number, name))
    return re.compile(_trie(sorted(lookup)) or "(?!)"), lookup  # (?!) never matches: an empty glossary


def uses(text: str, lang: str, path: Path = GLOSSARY, entries: list[dict] | None = None):
    """``(start, end, term number)`` of each use of a term in ``text``, left to right.

    Names match case-insensitively (abbreviations exactly); an English name must be a whole word, and
    may take a plural "s" or "es". ``entries`` replaces the glossary file (for tests).
    """
    regex, lookup = matcher(entries, lang) if entries else _matcher(lang, path, path.stat().st_mtime_ns)
    return _uses(text, regex, lookup, entries or terms(path))


def _uses(text: str, regex: re.Pattern[str], lookup: dict[str, tuple[int, str]], entries: list[dict]):
    lower = text.lower()
    if len(lower) != len(text):  # a character whose lowercase is longer: no safe positions
        return
    for match in regex.finditer(lower):
        start, end = match.span()
        number, name = lookup[match.group(0)]
        if _CJK.search(name):
            yield start, end, number
            continue
        if name == entries[number].get("abbr") and text[start:end] != name:
            continue
        end += next((len(s) for s in ("es", "s") if lower.startswith(s, end)), 0)
        before, after = lower[start - 1 : start], lower[end : end + 1]
        if not (before and _WORD.match(before)) and not (after and _WORD.match(after)):
            yield start, end, number


def aliases(text: str, lang: str, path: Path = GLOSSARY) -> list[str]:
    """The other names (other language, abbreviation) of the terms ``text`` uses: "MLLM" gives
    "多模态大模型", so the search finds a page by whichever name the reader types."""
    entries = terms(path)
    found = sorted({number for _, _, number in uses(text, lang, path)})
    other = [spoken(entries[i][key]) for i in found for key in ("zh", "en")]
    other += [entries[i]["abbr"] for i in found if entries[i].get("abbr")]
    return sorted({n for n in other if n.lower() not in text.lower()})


class FirstUse(Treeprocessor):
    """Wrap each term's first use on the page in ``<abbr title="…">``."""

    def __init__(self, md, lang: str, path: Path):
        super().__init__(md)
        self.lang, self.path = lang, path

    def run(self, root: ElementTree.Element) -> None:
        from mkdocstrings import MkdocstringsInnerExtension  # imported here: 0.3 s that only builds need

        if any(isinstance(e, MkdocstringsInnerExtension) for e in self.md.registeredExtensions):
            return  # a docstring on the API reference
        self.used: set[int] = set()
        # Once per page, not per text node: the glossary and its regex.
        self.entries = terms(self.path)
        self.regex, self.lookup = _matcher(self.lang, self.path, self.path.stat().st_mtime_ns)
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
        for start, end, number in _uses(text or "", self.regex, self.lookup, self.entries):
            if number in self.used:
                continue
            self.used.add(number)
            title = tooltip(self.entries[number], self.lang)
            abbr = ElementTree.Element("abbr", {"title": title})
            abbr.text = text[start:end]
            parent.insert(index, abbr)
            abbr.tail = self.mark(text[end:], parent, index + 1)
            return text[:start]
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

r"""TeX to MathML Core at build time: a Python-Markdown extension (``handbook_build.math`` in mkdocs.yml).

``$…$`` is inline math and a paragraph that starts with ``$$`` and ends with ``$$`` is display math; both
become MathML from `math-core <https://pypi.org/project/math-core/>`_, which every current browser renders
natively, so a page loads no math library. The TeX source stays in the MathML as an ``application/x-tex``
annotation. Display formulas sit in a focusable box that scrolls sideways when wider than the column.

TeX that math-core cannot convert raises, and MkDocs then fails the build with
``Error reading page '<page>': cannot render TeX …``.
"""

from __future__ import annotations

from xml.etree import ElementTree

import math_core
from markdown import Extension
from markdown.blockprocessors import BlockProcessor
from markdown.inlinepatterns import InlineProcessor

_CONVERTER = math_core.LatexToMathML(annotation=True, fancy_error=False)
# $…$: not after a backslash or another $, no space just inside the dollars, no $ inside; it may wrap onto
# the next line of its paragraph, as a wrapped docstring does.
INLINE = r"(?<![\\$])\$(?![\s$])((?:\\.|[^$\\])+?)(?<![\s\\])\$(?!\$)"


def to_mathml(tex: str, display: bool) -> str:
    """One formula as a ``<math>`` element; ``ValueError`` names the TeX that could not be converted."""
    try:
        return _CONVERTER.convert_with_local_state(tex.strip(), displaystyle=display)
    except math_core.LatexError as error:
        raise ValueError(f"cannot render TeX `{tex.strip()}`: {error}") from None


class InlineMath(InlineProcessor):
    def handleMatch(self, m, data):  # noqa: N802 - Python-Markdown's name
        return self.md.htmlStash.store(to_mathml(m.group(1), display=False)), m.start(0), m.end(0)


class DisplayMath(BlockProcessor):
    """A block (possibly several paragraphs of the source) from ``$$`` to ``$$``."""

    def test(self, parent, block):
        # An indented block belongs to the list item or admonition above it, whose processor dedents it
        # and hands it back here.
        return block.startswith("$$") or (block.lstrip().startswith("$$") and not block.startswith("    "))

    def run(self, parent, blocks):
        tex = blocks.pop(0).lstrip()[2:]
        while not tex.rstrip().endswith("$$"):
            if not blocks:
                raise ValueError(f"display math '$${tex[:40]}…' is never closed with $$")
            tex += "\n\n" + blocks.pop(0)
        tex = tex.rstrip()[:-2]
        box = ElementTree.SubElement(parent, "div", {"class": "math-display", "tabindex": "0"})
        box.text = self.parser.md.htmlStash.store(to_mathml(tex, display=True))


class MathExtension(Extension):
    def extendMarkdown(self, md):  # noqa: N802 - Python-Markdown's name
        # Above "escape" (180), so TeX backslashes reach the converter; below code spans (190).
        md.inlinePatterns.register(InlineMath(INLINE, md), "handbook-math", 185)
        md.parser.blockprocessors.register(DisplayMath(md.parser), "handbook-math-display", 95)


def makeExtension(**kwargs):  # noqa: N802 - Python-Markdown's entry point
    return MathExtension(**kwargs)

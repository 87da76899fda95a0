"""Render math at build time: TeX from pymdownx.arithmatex becomes MathML, so pages load no math library.

``pymdownx.arithmatex`` (generic mode) wraps ``$...$`` in ``<span class="arithmatex">\\(...\\)</span>`` and
``$$...$$`` in ``<div class="arithmatex">\\[...\\]</div>``. This module replaces those wrappers with MathML
from ``latex2mathml``; every current browser renders MathML Core natively. A formula that latex2mathml
cannot convert is reported with the page's name, and strict mode fails the build.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)


def tex_to_mathml(tex: str, display: str) -> str:
    """Convert one TeX formula (HTML-escaped, as Markdown leaves it) to a ``<math>`` element.

    latex2mathml passes unknown commands through as text and does not support ``&`` alignment; both would
    show the reader raw TeX, so both are errors here.
    """
    mathml = convert(html.unescape(tex).strip(), display=display)
    unknown = re.search(r">(\\[A-Za-z]+)<", mathml)
    if unknown:
        raise ValueError(f"unsupported TeX command {unknown.group(1)}")
    if "<mi>&</mi>" in mathml:
        raise ValueError("'&' alignment is not supported; split the formula into separate lines")
    return mathml


def render_math(page_html: str, report: Callable[[str, Exception], None]) -> str:
    """Replace every arithmatex wrapper in ``page_html``; call ``report(tex, error)`` on failures."""

    def substitute(match: re.Match[str], display: str) -> str:
        try:
            mathml = tex_to_mathml(match.group(1), display)
        except Exception as error:
            report(match.group(1), error)
            return match.group(0)
        tag = "div" if display == "block" else "span"
        return f'<{tag} class="math math-{display}">{mathml}</{tag}>'

    page_html = _BLOCK.sub(lambda m: substitute(m, "block"), page_html)
    return _INLINE.sub(lambda m: substitute(m, "inline"), page_html)

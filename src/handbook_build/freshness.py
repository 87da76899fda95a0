"""Translation freshness: each English page records which version of its Chinese twin it translates.

The Chinese page is the source of truth. An English page's front matter records
``translated_from: "<12 hex digits>"``: :func:`fingerprint` of its Chinese twin when the translation was last
checked. Line endings and trailing spaces do not count, and the English file never enters the hash. An
English page whose record is missing or differs gets :func:`notice` under its title, linking to the Chinese
page; ``make stale`` lists such pages and ``make translated PAGE=…`` records the current version
(``scripts/translations.py``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from handbook_build import content

FIELD = "translated_from"
SOURCE, TARGET = "zh", "en"
FRESH, STALE, MISSING = "fresh", "stale", "missing"
_H1 = re.compile(r"\A(\s*#[ \t][^\n]*\n)")


def fingerprint(zh_text: str) -> str:
    """First 12 hex digits of the SHA-256 of a Chinese page, ignoring line endings and trailing spaces."""
    lines = [line.rstrip() for line in zh_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return hashlib.sha256(("\n".join(lines).strip("\n") + "\n").encode()).hexdigest()[:12]


def status(docs: Path, rel: str) -> str:
    """``fresh``, ``stale`` or ``missing`` for the English page ``docs/en/<rel>``."""
    record = content.front_matter((docs / TARGET / rel).read_text(encoding="utf-8")).get(FIELD)
    if record is None:
        return MISSING
    return FRESH if str(record) == fingerprint((docs / SOURCE / rel).read_text(encoding="utf-8")) else STALE


def outdated(docs: Path, lang: str, rel: str) -> bool:
    """Whether ``docs/<lang>/<rel>`` is an English page whose record does not match its Chinese twin."""
    return lang == TARGET and (docs / SOURCE / rel).is_file() and status(docs, rel) != FRESH


def notice(zh_href: str) -> str:
    return (
        '!!! warning handbook-outdated "This translation may be out of date"\n'
        "    The Chinese page is the source of truth, and it may have changed since this English page was "
        f'last checked against it. See the <a href="{zh_href}" hreflang="zh">Chinese original</a> '
        "for the current version.\n\n"
    )


def with_notice(markdown: str, zh_href: str) -> str:
    """The notice under the page's H1 (or at the top)."""
    h1 = _H1.match(markdown)
    if h1:
        return f"{h1.group(1)}\n{notice(zh_href)}{markdown[h1.end() :]}"
    return notice(zh_href) + markdown

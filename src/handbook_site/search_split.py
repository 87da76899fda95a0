"""One search index per language, so a reader on an English page gets English results only.

Material for MkDocs writes a single ``search/search_index.json`` for both language builds, and its search
worker loads the index from ``<base>/search/search_index.json``, where ``base`` comes from the page's
``__config``. After the build, :func:`split_index` writes the default language's documents to the root
index and each other language's documents to ``<lang>/search/search_index.json`` (locations made relative
to that language's root); :func:`point_search_at_language_root` makes those pages use ``<base>/<lang>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_CONFIG = re.compile(r'(<script id="__config" type="application/json">)(.*?)(</script>)', re.S)


def point_search_at_language_root(page_html: str, lang: str, default: str = "zh") -> str:
    """Append ``/<lang>/`` to the page's Material ``base`` for non-default languages."""
    if lang == default:
        return page_html

    def rewrite(match: re.Match[str]) -> str:
        config = json.loads(match.group(2))
        # The trailing slash matters: Material resolves "search/search_index.json" and result links against
        # ``new URL(base, location)``; without it, ".../en" resolves them to the site root (the zh index).
        config["base"] = f"{config['base'].rstrip('/')}/{lang}/"
        return match.group(1) + json.dumps(config, ensure_ascii=False) + match.group(3)

    return _CONFIG.sub(rewrite, page_html, count=1)


def _site_root(site_dir: Path, languages: tuple[str, ...]) -> Path:
    return site_dir.parent if site_dir.name in languages else site_dir


def split_index(site_dir: Path, languages: tuple[str, ...], default: str) -> None:
    """Split the merged index by the first path segment of each document's location."""
    root = _site_root(site_dir, languages)
    merged_path = root / "search" / "search_index.json"
    if not merged_path.exists():
        return
    merged = json.loads(merged_path.read_text(encoding="utf-8"))
    by_lang: dict[str, list[dict]] = {lang: [] for lang in languages}
    for doc in merged["docs"]:
        head = doc["location"].split("/", 1)[0]
        lang = head if head in languages and head != default else default
        if lang != default:
            doc = {**doc, "location": doc["location"][len(lang) + 1 :]}
        by_lang[lang].append(doc)
    for lang, docs in by_lang.items():
        if lang != default and not docs:
            continue  # nothing of this language built yet (first of the two builds)
        config = dict(merged["config"])
        if lang != default:
            config["lang"] = [lang]
        target = merged_path if lang == default else root / lang / "search" / "search_index.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"config": config, "docs": docs}, ensure_ascii=False), encoding="utf-8")

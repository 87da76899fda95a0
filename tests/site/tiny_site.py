"""A throwaway project for end-to-end build tests: the real configs and hooks, its own site map and pages.

:func:`make` writes ``mkdocs.yml`` and ``mkdocs.en.yml`` (the real ones, with the hooks path made absolute),
links ``overrides/`` and ``src/``, and writes the site map, pages and snippets it is given, with an empty
bibliography and glossary. Nothing here
touches the real tree.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml

from tests.conftest import ROOT
from tests.site.conftest import Build, handbook_build

SITE_MAP = {
    "sections": [{"slug": "demo", "zh": "演示", "en": "Demo", "pages": ["alpha"]}],
    "questions": [],
    "redirects": {},
}
PAGE = "demo/alpha"


def page(lang: str, body: str = "", *, snippet: str | None = None) -> str:
    """A small question page; ``snippet`` adds the executed block that includes ``snippets/<snippet>``."""
    title = "小页面" if lang == "zh" else "A tiny page"
    label = "30 秒回答" if lang == "zh" else "30-second answer"
    answer = "这是一个用于测试的小页面，它的第一句话足够长。" if lang == "zh" else "A tiny page for tests, long enough."
    code = f'\n```python exec="on" source="above" title="snippets/{snippet}"\n--8<-- "{snippet}"\n```\n' if snippet else ""
    return (
        f"---\ntitle: {title}\nsource: []\n---\n\n# {title} {{ #alpha }}\n\n"
        f'!!! abstract "{label}"\n    {answer}\n\n{body}{code}'
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make(tmp_path: Path, pages: dict[str, str], snippets: dict[str, str] | None = None,
         site_map: dict | None = None) -> Path:
    """A project in ``tmp_path``: ``pages`` maps ``zh/demo/alpha.md``-style paths to their text."""
    hooks = "src/handbook_build/hooks.py"
    for name in ("mkdocs.yml", "mkdocs.en.yml"):
        text = (ROOT / name).read_text(encoding="utf-8")
        write(tmp_path / name, text.replace(hooks, str(ROOT / hooks)))
    (tmp_path / "overrides").symlink_to(ROOT / "overrides")
    (tmp_path / "src").symlink_to(ROOT / "src")
    write(tmp_path / "site_map.yml", yaml.safe_dump(site_map or SITE_MAP, allow_unicode=True, sort_keys=False,
                                                    default_flow_style=None, width=10**6))
    write(tmp_path / "bibliography.yml", "{}\n")
    write(tmp_path / "glossary.yml", "terms: []\n")
    (tmp_path / "snippets").mkdir()
    for lang, title in (("zh", "首页"), ("en", "Home")):
        write(tmp_path / f"docs/{lang}/index.md", f"# {title} {{ #home }}\n\n{title}.\n\n## Scope {{ #scope }}\n\n…\n")
        write(tmp_path / f"docs/{lang}/demo/index.md", f"# {title} {{ #demo }}\n\n<!-- handbook:section-pages -->\n")
    for rel, text in pages.items():
        write(tmp_path / "docs" / rel, text)
    for rel, text in (snippets or {}).items():
        write(tmp_path / "snippets" / rel, text)
    return tmp_path


def build(root: Path, **env: str) -> Build:
    return handbook_build(root, root / "site", env=env, timeout=600)


def config(root: Path, lang: str) -> SimpleNamespace:
    """The parts of a MkDocs config the hooks read, for calling a hook in-process on the project at ``root``."""
    return SimpleNamespace(
        theme={"language": lang},
        docs_dir=str(root / "docs" / lang),
        config_file_path=str(root / "mkdocs.yml"),
        site_dir=str(root / "site" / lang),
        site_url="",
        extra={},
    )

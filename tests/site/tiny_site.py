"""A throwaway copy of the site for tests that change the site map: real config, own package copy.

The copy has the real ``mkdocs.yml`` and a copy of ``src/handbook_site`` (so its ``site_map.yml`` can differ
from the real one); :func:`build` puts that copy first on ``PYTHONPATH``, so the hooks import it and not the
installed package. ``mllm_handbook`` and ``overrides`` are symlinks. Nothing here touches the real tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.conftest import ROOT, Build, mkdocs_build

SECTION = {"slug": "demo", "zh": "演示", "en": "Demo", "pages": []}


def page(lang: str, slug: str, title: str | None = None, body: str = "") -> str:
    """A small question page with a 30-second answer (its first sentence becomes the description)."""
    title = title or ("小页面" if lang == "zh" else "A tiny page")
    label = "30 秒回答" if lang == "zh" else "30-second answer"
    answer = (
        "这是一个用于测试的小页面，它的第一句话足够长。"
        if lang == "zh"
        else "A tiny page for tests, long enough."
    )
    return (
        f"---\ntitle: {title}\n---\n\n# {title} {{ #{slug} }}\n\n"
        f'!!! abstract "{label}"\n    {answer}\n\n{body}'
    )


def make(tmp_path: Path, site_map: dict | None = None, pages: dict[str, str] | None = None) -> Path:
    """A site in ``tmp_path``: ``pages`` maps ``zh/demo/alpha.md``-style paths to their text."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "overrides").symlink_to(ROOT / "overrides")
    shutil.copytree(
        ROOT / "src/handbook_site",
        tmp_path / "src/handbook_site",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "src/mllm_handbook").symlink_to(ROOT / "src/mllm_handbook")
    if site_map is not None:
        text = yaml.safe_dump(
            site_map, allow_unicode=True, sort_keys=False, default_flow_style=None, width=10**6
        )
        (tmp_path / "src/handbook_site/site_map.yml").write_text(text, encoding="utf-8")
    (tmp_path / "snippets").mkdir()
    for lang, title in (("zh", "首页"), ("en", "Home")):
        write(
            tmp_path / f"docs/{lang}/index.md",
            f"---\ntitle: {title}\n---\n\n# {title} {{ #home }}\n\n{title}.\n",
        )
    for rel, text in (pages or {}).items():
        write(tmp_path / "docs" / rel, text)
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build(site_root: Path) -> Build:
    """Strict build of the copy, importing its own ``handbook_site``."""
    env = {"PYTHONPATH": str(site_root / "src")}
    return mkdocs_build(site_root / "mkdocs.yml", site_root / "site", extra_env=env, timeout=600)

"""`make new-page`: the scaffold, its refusals, and the page failing until it is filled in.

Everything runs in temporary copies; the real tree is never touched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import new_page as scaffold
from tests.conftest import ROOT
from tests.site import tiny_site

PAGE = "transformer/demo-question"
STUB_TEST = "tests/handbook/test_page_transformer_demo_question.py"
CREATED = [f"docs/zh/{PAGE}.md", f"docs/en/{PAGE}.md", f"snippets/{PAGE}.py", STUB_TEST]


def repo_copy(tmp_path: Path) -> Path:
    """The parts of the repository the scaffold reads and writes, with the real site map."""
    shutil.copy(ROOT / scaffold.SITE_MAP, tmp_path / scaffold.SITE_MAP)
    for folder in ("docs/zh", "docs/en", "snippets", "tests/handbook"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    return tmp_path


def run_pytest(root: Path, test_file: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", test_file]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True)


def test_creates_the_page_files_and_lists_the_slug(tmp_path, capsys):
    root = repo_copy(tmp_path)
    before = (root / scaffold.SITE_MAP).read_text(encoding="utf-8")
    assert scaffold.main(["transformer", "demo-question"], root=root) == 0
    out = capsys.readouterr().out
    for rel in CREATED:
        assert (root / rel).is_file(), rel
        assert f"created {rel}" in out
    assert f"make translated PAGE={PAGE}" in out

    after = (root / scaffold.SITE_MAP).read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1] == changed[0][0].replace("]", ", demo-question]")
    section = next(s for s in yaml.safe_load(after)["sections"] if s["slug"] == "transformer")
    assert section["pages"][-1] == "demo-question"

    zh = (root / f"docs/zh/{PAGE}.md").read_text(encoding="utf-8")
    en = (root / f"docs/en/{PAGE}.md").read_text(encoding="utf-8")
    anchors = re.compile(r"\{ #([a-z-]+) \}")
    assert (
        anchors.findall(zh)
        == anchors.findall(en)
        == [
            "demo-question",
            "in-depth",
            "todo-anchor",
            "code",
            "follow-ups",
            "references",
        ]
    )
    assert '!!! abstract "30 秒回答"' in zh and '!!! abstract "30-second answer"' in en
    fence = f'```python exec="on" source="above" title="snippets/{PAGE}.py"\n--8<-- "{PAGE}.py"\n```'
    assert fence in zh and fence in en
    for text in (zh, en):
        meta = yaml.safe_load(text.split("---\n")[1])
        assert set(meta) == {"title", "source", "asked", "tags", "keywords", "difficulty", "references"}
        assert scaffold.MARKER in meta["title"] and meta["asked"] == "new" and meta["references"] == []
        assert "<!-- handbook:references -->" in text


def test_generated_python_passes_the_linter(tmp_path):
    root = repo_copy(tmp_path)
    assert scaffold.main(["language-models", "a-rather-long-slug-for-the-line-length"], root=root) == 0
    files = [str(p) for p in (root / "snippets").rglob("*.py")] + [
        str(p) for p in (root / "tests").rglob("*.py")
    ]
    config = ["--config", str(ROOT / "pyproject.toml")]
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", *config, *files], check=True, capture_output=True)
    subprocess.run([*ruff, "format", "--check", *config, *files], check=True, capture_output=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "x"], "unknown section 'nope'. Sections in site_map.yml: foundations,"),
        (["transformer", "normalization"], "page transformer/normalization already exists"),
        (["transformer", "layernorm"], "transformer/layernorm is the old path of a redirect"),
        (["transformer", "Bad_Slug"], "'Bad_Slug' is not a valid slug"),
        (["transformer", "index"], "'index' is not a valid slug"),
        (["transformer", ""], "usage: make new-page SECTION=<section> SLUG=<slug>"),
        (["", ""], "usage: make new-page SECTION=<section> SLUG=<slug>"),
    ],
)
def test_refuses_with_a_clear_message_and_changes_nothing(tmp_path, capsys, args, message):
    root = repo_copy(tmp_path)
    before = (root / scaffold.SITE_MAP).read_text(encoding="utf-8")
    assert scaffold.main(args, root=root) == 1
    assert message in capsys.readouterr().err
    assert (root / scaffold.SITE_MAP).read_text(encoding="utf-8") == before
    assert not [p for p in root.rglob("*") if p.is_file() and p.name != "site_map.yml"]


def test_refuses_a_slug_whose_files_exist(tmp_path, capsys):
    root = repo_copy(tmp_path)
    tiny_site.write(root / f"snippets/{PAGE}.py", "print(1)\n")
    assert scaffold.main(["transformer", "demo-question"], root=root) == 1
    assert f"already has files: snippets/{PAGE}.py" in capsys.readouterr().err
    assert scaffold.main(["transformer"], root=root) == 1


def test_refuses_outside_the_repository(tmp_path, capsys):
    assert scaffold.main(["transformer", "x"], root=tmp_path) == 1
    assert "run this from the repository root" in capsys.readouterr().err


def test_site_map_without_a_one_line_list_is_refused():
    text = "sections:\n  - slug: a\n    zh: A\n    en: A\n    pages:\n      - one\n"
    with pytest.raises(scaffold.ScaffoldError, match="add 'two' to it by hand"):
        scaffold.append_to_site_map(text, "a", "two")
    with pytest.raises(scaffold.ScaffoldError, match="section 'b' not found"):
        scaffold.append_to_site_map(text, "b", "two")
    empty = "sections:\n  - slug: a\n    pages: []\n"
    assert scaffold.append_to_site_map(empty, "a", "two").endswith("pages: [two]\n")


def filled_page(lang: str) -> str:
    """What a contributor writes: the full anatomy, no placeholders."""
    zh = lang == "zh"
    code = f'```python exec="on" source="above" title="snippets/{PAGE}.py"\n--8<-- "{PAGE}.py"\n```\n'
    return tiny_site.page(lang, ("## 深入解析 { #in-depth }\n\n正文。\n\n## 代码 { #code }\n\n" if zh else
                                 "## In depth { #in-depth }\n\nText.\n\n## Code { #code }\n\n") + code)


@pytest.mark.build
def test_new_page_fails_the_build_and_its_tests_until_filled_in(tmp_path):
    """Scaffold into a tiny project: the build and the stub test fail, naming what is left; filled in, both pass."""
    transformer = {"slug": "transformer", "zh": "组件", "en": "Blocks", "pages": []}
    plan = {**tiny_site.SITE_MAP, "sections": [*tiny_site.SITE_MAP["sections"], transformer]}
    root = tiny_site.make(tmp_path, {}, site_map=plan)
    for lang in ("zh", "en"):
        tiny_site.write(root / f"docs/{lang}/transformer/index.md", "# T { #transformer }\n")
    (root / "tests/handbook").mkdir(parents=True)
    assert scaffold.main(["transformer", "demo-question"], root=root) == 0

    unfilled = tiny_site.build(root)
    assert unfilled.returncode != 0
    assert f"snippets/{PAGE}.py failed" in unfilled.log and "NotImplementedError" in unfilled.log
    stub = run_pytest(root, STUB_TEST)
    assert stub.returncode != 0 and "3 failed" in stub.stdout, stub.stdout

    for lang in ("zh", "en"):
        tiny_site.write(root / f"docs/{lang}/{PAGE}.md", filled_page(lang))
    tiny_site.write(root / f"snippets/{PAGE}.py", 'total = 1 + 2\nassert total == 3\nprint(f"total = {total}")\n')
    test_file = root / STUB_TEST
    text = test_file.read_text(encoding="utf-8")
    test_file.write_text(text[: text.index("def test_todo_scaffold")] + "def test_addition():\n    assert 1 + 2 == 3\n",
                         encoding="utf-8")
    assert run_pytest(root, STUB_TEST).returncode == 0
    filled = tiny_site.build(root)
    assert filled.returncode == 0, filled.log[-4000:]
    assert "total = 3" in (filled.site / f"en/{PAGE}/index.html").read_text(encoding="utf-8")

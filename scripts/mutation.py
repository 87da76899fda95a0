"""Mutation testing for src/mllm_handbook: do the tests notice when the code is wrong?

For each module named on the command line, every small change below is applied **one at a time** to a
temporary copy of the package (the working tree is never written), and the module's own tests
(``tests/handbook/test_<module>.py``, with ``-x -q``) run against it. A mutant the tests fail on is
*killed*; one they pass is a *survivor*: a wrong formula the tests would let through.

* comparisons ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``
* arithmetic ``+`` ↔ ``-``, ``*`` ↔ ``/`` (also in ``+=`` and the like)
* ``.mean`` ↔ ``.sum``; ``min`` ↔ ``max`` (and ``minimum``/``maximum``, ``amin``/``amax``)
* a unary minus dropped; ``True`` ↔ ``False``; a number changed (0 ↔ 1, n → n + 1)
* a ``.detach()`` call dropped

String constants (docstrings) are never touched, nor f-strings, annotations or the message argument
of ``check(condition, message)``: changing a message is not a wrong formula. Mutants that cannot be
told apart from the original by any input are listed in ``EQUIVALENT`` with the reason.

Usage (from the repository root, with the project's interpreter)::

    PYTHONPATH=src python scripts/mutation.py norms attention ...   # --jobs N, --timeout S, --list
"""

from __future__ import annotations

import argparse
import ast
import copy
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mllm_handbook"
TESTS = ROOT / "tests" / "handbook"

COMPARE = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}
ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
NAMES = {"mean": "sum", "sum": "mean", "min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum"}
NAMES |= {"amin": "amax", "amax": "amin"}

# "module.function: mutation" -> why no input can tell the mutant from the original.
EQUIVALENT: dict[str, str] = {}


@dataclass
class Mutant:
    module: str
    line: int
    function: str
    description: str
    source: str

    @property
    def key(self) -> str:
        return f"{self.module}.{self.function}: {self.description}"


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes that are not code under test: f-strings, annotations, ``check`` messages."""
    skip: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.append(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check":
            skip += node.args[1:] + [kw.value for kw in node.keywords]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip += [a.annotation for a in ast.walk(node.args) if isinstance(a, ast.arg) and a.annotation]
            skip += [node.returns] if node.returns else []
        elif isinstance(node, ast.AnnAssign):
            skip.append(node.annotation)
    return {id(n) for root in skip for n in ast.walk(root)}


def _changes(node: ast.AST) -> list[tuple[str, object]]:
    """The mutations that apply to ``node``: ``(description, replacement or edit)``."""
    out: list[tuple[str, object]] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE:
                out.append((f"{_sym(op)} -> {_sym(COMPARE[type(op)]())}", ("op", i, COMPARE[type(op)]())))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in ARITH:
        new = ARITH[type(node.op)]()
        out.append((f"{_sym(node.op)} -> {_sym(new)}", ("binop", new)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        out.append(("drop unary -", ("replace", node.operand)))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append((f"{node.value} -> {not node.value}", ("replace", ast.Constant(not node.value))))
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        new = {0: 1, 1: 0}.get(node.value, node.value + 1)
        new = type(node.value)(new)
        out.append((f"{node.value!r} -> {new!r}", ("replace", ast.Constant(new))))
    elif isinstance(node, ast.Attribute) and node.attr in NAMES:
        out.append((f".{node.attr} -> .{NAMES[node.attr]}", ("attr", NAMES[node.attr])))
    elif isinstance(node, ast.Name) and node.id in NAMES and node.id not in ("sum", "mean"):
        out.append((f"{node.id} -> {NAMES[node.id]}", ("name", NAMES[node.id])))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "detach":
        out.append(("drop .detach()", ("replace", node.func.value)))
    return out


def _sym(op: ast.AST) -> str:
    symbols = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
    return symbols.get(type(op)) or {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(op)]


def _apply(node: ast.AST, edit: tuple) -> ast.AST:
    """Edit ``node`` in place, or return the node that replaces it."""
    kind, *args = edit
    if kind == "op":
        node.ops[args[0]] = args[1]
    elif kind == "binop":
        node.op = args[0]
    elif kind == "attr":
        node.attr = args[0]
    elif kind == "name":
        node.id = args[0]
    else:
        return args[0]
    return node


def _replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
        elif isinstance(value, list):
            parent_list = value
            for i, item in enumerate(parent_list):
                if item is old:
                    parent_list[i] = new


def mutants(module: str) -> list[Mutant]:
    """Every single-change mutant of ``src/mllm_handbook/<module>.py``, in source order."""
    text = (PACKAGE / f"{module}.py").read_text()
    tree = ast.parse(text)
    skip = _skipped(tree)
    nodes = list(ast.walk(tree))
    functions = {
        id(n): f.name for f in nodes if isinstance(f, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(f)
    }
    out = []
    for index, node in enumerate(nodes):
        if id(node) in skip:
            continue
        for description, edit in _changes(node):
            clone = copy.deepcopy(tree)
            target = list(ast.walk(clone))[index]
            new = _apply(target, edit)
            if new is not target:
                parent = {id(c): p for p in ast.walk(clone) for c in ast.iter_child_nodes(p)}[id(target)]
                _replace_child(parent, target, new)
            segment = ast.get_source_segment(text, node) or ""
            description = f"`{' '.join(segment.split())[:60]}`: {description}"
            out.append(
                Mutant(
                    module, node.lineno, functions.get(id(node), "<module>"), description, ast.unparse(clone)
                )
            )
    return sorted(out, key=lambda m: m.line)


def _run(source: str, module: str, workdir: str) -> None:
    """Child process: the package copy with one module replaced, then that module's tests."""
    work = Path(workdir)
    shutil.copytree(PACKAGE, work / "src" / "mllm_handbook", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "src" / "mllm_handbook" / f"{module}.py").write_text(source)
    shutil.copy(TESTS / f"test_{module}.py", work)
    (work / "pytest.ini").write_text("[pytest]\n")
    os.chdir(work)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # no browser or coverage plugins: faster
    sys.path.insert(0, str(work / "src"))
    sys.dont_write_bytecode = True
    import pytest
    import torch
    from hypothesis import Phase, settings

    torch.set_num_threads(1)
    no_shrink = [Phase.explicit, Phase.reuse, Phase.generate]  # a failing example is enough; no shrinking
    settings.register_profile("mutation", derandomize=True, database=None, phases=no_shrink)
    settings.load_profile("mutation")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1), os.dup2(devnull, 2)
    args = [f"test_{module}.py", "-x", "-q", "-p", "no:cacheprovider"]
    os._exit(int(pytest.main(args)))


def run_all(items: list[Mutant], module: str, jobs: int, timeout: float) -> list[str]:
    """Run the mutants ``jobs`` at a time; returns 'killed', 'survived' or 'timeout' for each."""
    context = multiprocessing.get_context("fork")
    results: list[str] = [""] * len(items)
    pending, running = list(range(len(items))), {}
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        while pending or running:
            while pending and len(running) < jobs:
                i = pending.pop(0)
                process = context.Process(target=_run, args=(items[i].source, module, f"{tmp}/{i}"))
                process.start()
                running[i] = (process, time.monotonic())
            time.sleep(0.05)
            for i, (process, start) in list(running.items()):
                if process.exitcode is not None:
                    results[i] = "survived" if process.exitcode == 0 else "killed"
                elif time.monotonic() - start > timeout:
                    process.kill()
                    process.join()
                    results[i] = "timeout"  # an endless loop is caught by the tests' time limit: killed
                else:
                    continue
                del running[i]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="module names under src/mllm_handbook, e.g. norms")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants run in parallel")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per mutant before it counts as killed"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants without running them")
    options = parser.parse_args()
    import pytest  # noqa: F401  (imported once here, so every forked mutant starts warm)
    import torch  # noqa: F401

    rows = []
    for module in options.modules:
        items = mutants(module)
        if options.list:
            print("\n".join(f"{module}.py:{m.line} {m.function}: {m.description}" for m in items))
            continue
        baseline = run_all(
            [Mutant(module, 0, "", "original", (PACKAGE / f"{module}.py").read_text())], module, 1, 600
        )
        if baseline != ["survived"]:
            print(f"{module}: the tests fail on the unmutated code; fix them first")
            return 1
        start = time.monotonic()
        results = run_all(items, module, options.jobs, options.timeout)
        survivors = [m for m, r in zip(items, results, strict=True) if r == "survived"]
        equivalent = [m for m in survivors if m.key in EQUIVALENT]
        for m in survivors:
            tag = f"equivalent ({EQUIVALENT[m.key]})" if m in equivalent else "SURVIVED"
            print(f"  {module}.py:{m.line} {m.function}: {m.description}  [{tag}]")
        killed = len(items) - len(survivors)
        rows.append(
            (
                module,
                len(items),
                killed,
                len(survivors) - len(equivalent),
                len(equivalent),
                time.monotonic() - start,
            )
        )
    if rows:
        print(
            f"\n{'module':<12} {'mutants':>8} {'killed':>7} {'survived':>9} {'equivalent':>11} {'kill rate':>10} {'adjusted':>9}"
        )
        for module, total, killed, survived, equivalent, seconds in rows:
            rate = killed / total if total else 1.0
            adjusted = killed / (total - equivalent) if total > equivalent else 1.0
            print(
                f"{module:<12} {total:>8} {killed:>7} {survived:>9} {equivalent:>11} {rate:>10.1%} {adjusted:>9.1%}  ({seconds:.0f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

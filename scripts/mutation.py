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
import json
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
EQUIVALENT: dict[str, str] = {
    "attention.flash_attention_forward: `q_i.shape[:-1]`: 1 -> 0": "m, l and the accumulator may start as "
    "broadcastable scalars: the first key tile gives them their full shape",
    "attention.flash_attention_forward: `cols[-1] > rows[0]`: > -> >=": "a tile that only touches the diagonal "
    "(last key = first query) holds no key after its query: masking it changes nothing",
    "positional.t5_relative_position_bucket: `distance.clamp(min=1)`: 1 -> 0": "the clamp only keeps log(0) "
    "out of the log-spaced branch, which torch.where discards for distance 0",
    "positional.t5_relative_position_bucket: `distance < max_exact`: < -> <=": "at distance = max_exact both "
    "branches give max_exact (log 1 = 0)",
    "losses.siglip_loss_chunked: `d + s`: + -> -": "over s = 0..K-1, (d + s) mod K and (d - s) mod K visit the "
    "same text blocks: the ring may turn either way",
    "losses.huber_loss: `err <= delta`: <= -> <": "at |e| = δ both branches equal δ²/2 (the loss is continuous)",
    "losses.stable_log_softmax: `logits - logits.amax(dim=dim, keepdim=True).detach()`: drop .detach()": "the shift "
    "cancels: the derivative of z - m - log Σ exp(z - m) with respect to m is 0",
    "decoding.repetition_penalty: `seen > 0`: > -> >=": "at z = 0 both branches give 0",
}


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
    parents = {id(child): parent for parent in nodes for child in ast.iter_child_nodes(parent)}
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
            segment = _context(node, parents, text)
            description = f"`{' '.join(segment.split())[:60]}`: {description}"
            out.append(
                Mutant(
                    module, node.lineno, functions.get(id(node), "<module>"), description, ast.unparse(clone)
                )
            )
    return sorted(out, key=lambda m: m.line)


class _CallRecorder:
    """pytest plugin: which tests call which function of the module under test (by ``co_name``)."""

    def __init__(self, filename: str) -> None:
        self.filename, self.test, self.order, self.calls = filename, "", [], {}

    def _trace(self, frame, event, arg):  # a global trace function sees every Python call
        if frame.f_code.co_filename == self.filename:
            self.calls.setdefault(frame.f_code.co_name, []).append(self.test)

    def pytest_runtest_setup(self, item) -> None:
        self.test = item.nodeid
        self.order.append(item.nodeid)
        sys.settrace(self._trace)

    def pytest_runtest_teardown(self, item) -> None:
        sys.settrace(None)


def _context(node: ast.AST, parents: dict[int, ast.AST], text: str) -> str:
    """Where a mutation is, as code: a number or name is shown with its parent, a default with its name."""
    if isinstance(node, (ast.Compare, ast.BinOp, ast.AugAssign)):
        return ast.get_source_segment(text, node) or ""
    parent = parents[id(node)]
    if isinstance(parent, ast.arguments):  # a default value: ``name=value``
        names = [a.arg for a in parent.posonlyargs + parent.args][-len(parent.defaults) :]
        pairs = [*zip(names, parent.defaults, strict=True)]
        pairs += zip([a.arg for a in parent.kwonlyargs], parent.kw_defaults, strict=True)
        return next(f"{name}={ast.unparse(value)}" for name, value in pairs if value is node)
    while not isinstance(parent, (ast.Call, ast.Subscript, ast.Compare, ast.BinOp, ast.BoolOp, ast.stmt)):
        parent = parents[id(parent)]  # climb past -x, slices and keywords to a recognisable expression
    return ast.get_source_segment(text, parent) or ""


def _run(source: str, module: str, workdir: str, tests: list[str] | None, record: bool = False) -> None:
    """Child process: the package copy with one module replaced, then (some of) that module's tests."""
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
    settings.register_profile(
        "mutation", derandomize=True, database=None, phases=no_shrink, report_multiple_bugs=False
    )
    settings.load_profile("mutation")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1), os.dup2(devnull, 2)
    recorder = _CallRecorder(str(work / "src" / "mllm_handbook" / f"{module}.py"))
    plugins = [
        "no:cacheprovider",
        "no:unraisableexception",
        "no:threadexception",
    ]  # the last two gc.collect()
    args = [*(tests or [f"test_{module}.py"]), "-x", "-q", *(f"-p{p}" for p in plugins)]
    code = int(pytest.main(args, plugins=[recorder] if record else []))
    if record:
        (work / "calls.json").write_text(json.dumps({"order": recorder.order, "calls": recorder.calls}))
    os._exit(code)


def _baseline(module: str, tmp: str) -> dict[str, list[str]] | None:
    """Run the tests on the original module; map each function to the tests that call it (None: they fail)."""
    source = (PACKAGE / f"{module}.py").read_text()
    process = multiprocessing.get_context("fork").Process(target=_run, args=(source, module, tmp, None, True))
    process.start()
    process.join()
    if process.exitcode != 0:
        return None
    recorded = json.loads((Path(tmp) / "calls.json").read_text())
    position = {test: i for i, test in enumerate(recorded["order"])}
    return {name: sorted(set(tests), key=position.get) for name, tests in recorded["calls"].items()}


def run_all(items: list[Mutant], module: str, jobs: int, timeout: float) -> list[str] | None:
    """Run each mutant against the tests that call its function, ``jobs`` at a time.

    Returns 'killed', 'survived' or 'timeout' per mutant, or None if the tests fail on the original code.
    A mutant outside any function the tests call (module level, class body) runs the whole test file.
    """
    context = multiprocessing.get_context("fork")
    results: list[str] = [""] * len(items)
    pending, running = list(range(len(items))), {}
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        calls = _baseline(module, f"{tmp}/baseline")
        if calls is None:
            return None
        while pending or running:
            while pending and len(running) < jobs:
                i = pending.pop(0)
                tests = calls.get(items[i].function)
                args = (items[i].source, module, f"{tmp}/{i}", tests)
                process = context.Process(target=_run, args=args)
                process.start()
                running[i] = (process, time.monotonic())
            time.sleep(0.02)
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
        "--timeout", type=float, default=120.0, help="seconds per mutant; longer counts as killed"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants without running them")
    options = parser.parse_args()
    # Imported once here, so that every forked mutant starts warm (assert_close imports DTensor lazily).
    import hypothesis.strategies  # noqa: F401
    import pytest  # noqa: F401
    import torch.nn.functional
    import torch.testing  # noqa: F401
    from torch.distributed.tensor import DTensor  # noqa: F401

    rows = []
    for module in options.modules:
        items = mutants(module)
        if options.list:
            print("\n".join(f"{module}.py:{m.line} {m.function}: {m.description}" for m in items))
            continue
        start = time.monotonic()
        results = run_all(items, module, options.jobs, options.timeout)
        if results is None:
            print(f"{module}: the tests fail on the unmutated code; fix them first")
            return 1
        survivors = [m for m, r in zip(items, results, strict=True) if r == "survived"]
        equivalent = [m for m in survivors if m.key in EQUIVALENT]
        for m in survivors:
            tag = f"equivalent: {EQUIVALENT[m.key]}" if m in equivalent else "SURVIVED"
            print(f"  {module}.py:{m.line} {m.function}: {m.description}  [{tag}]", flush=True)
        killed = len(items) - len(survivors)
        rows.append((module, len(items), killed, len(survivors) - len(equivalent), len(equivalent)))
        print(f"{module}: {killed}/{len(items)} killed in {time.monotonic() - start:.0f} s", flush=True)
    if rows:
        print(f"\n{'module':<12} {'killed/total':>13} {'kill rate':>10} {'survived':>9} {'equivalent':>11}")
        for module, total, killed, survived, equivalent in rows:
            print(
                f"{module:<12} {f'{killed}/{total}':>13} {killed / total:>10.1%} {survived:>9} {equivalent:>11}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

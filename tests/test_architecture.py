"""The layout is declared and checked: layers (import-linter), one import cycle, lint (ruff),
no imports hidden in functions or at the bottom of files, and modules of a readable size.

See docs/ARCHITECTURE.md for the layers and what each may import.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chainrule"
MAX_LINES = 400
# tensor.py delegates every operator and method to the ops, which import it: the one cycle.
LONG_MODULES = {"chainrule/tensor.py"}
CORE_CYCLE = "chainrule.tensor"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _own(module: str | None) -> bool:
    return module is not None and (module == "chainrule" or module.startswith("chainrule."))


def test_import_layers_hold():
    """cli → lab → diagnostics → train → models → nn | optim | data → ops → core."""
    from importlinter import cli  # the test extra installs import-linter and ruff

    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == cli.EXIT_STATUS_SUCCESS


def test_the_import_graph_has_exactly_one_cycle_the_tensor_and_its_ops():
    import grimp  # import-linter's graph library

    graph = grimp.build_graph("chainrule")
    modules = sorted(graph.modules)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in modules}
    cycles = [group for group in _strongly_connected(modules, edges) if len(group) > 1]
    assert len(cycles) == 1, f"import cycles: {cycles}"
    (core,) = cycles
    assert CORE_CYCLE in core
    allowed = {"chainrule.tensor", "chainrule.autograd.function", "chainrule.autograd.engine"}
    assert all(m in allowed or m.startswith("chainrule.ops.") for m in core), sorted(core)


def _strongly_connected(nodes, edges):
    """Tarjan's algorithm, iteratively (the graph has ~130 nodes)."""
    index, low, on_stack, stack, groups, counter = {}, {}, set(), [], [], [0]
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups


def test_own_modules_are_imported_at_the_top_only():
    """Function-level imports only for optional third-party dependencies; no imports at the
    bottom of a file, except tensor.py's imports of the ops it delegates to."""
    problems = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level or _own(inner.module)):
                        problems.append(f"{path.relative_to(ROOT)}:{inner.lineno} in a function")
                    elif isinstance(inner, ast.Import) and any(_own(a.name) for a in inner.names):
                        problems.append(f"{path.relative_to(ROOT)}:{inner.lineno} in a function")
        seen_definition = False
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                seen_definition = True
            elif seen_definition and isinstance(node, (ast.Import, ast.ImportFrom)):
                if name != CORE_CYCLE:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} at the bottom")
    assert not problems, "imports of chainrule's own modules out of place:\n" + "\n".join(problems)


def test_modules_stay_readable_in_size():
    long = {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
            for path in _modules().values()}
    too_long = {path: lines for path, lines in long.items()
                if lines > MAX_LINES and path not in LONG_MODULES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them): {too_long}"


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    command = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    result = subprocess.run(command + ["check", "--no-cache", "chainrule", "tests", "benchmarks",
                                       "examples"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

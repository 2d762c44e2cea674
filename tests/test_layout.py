"""The package layout of mlt_core (issue 16): no import cycle, no Streamlit, a torch-free training package, old flat names gone."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "mlt_core"

# every flat module the layout moved into a subpackage (issue 16): none may be importable any more
GONE = ["checkpoint", "arch", "tokenizer", "tokcheck", "sources", "templates", "langs", "labels", "evaluate", "metrics",
        "representations", "report", "fertility", "word_alignment", "neuron_stats", "neuron_corpus", "neuron_cache",
        "attribute", "deeplift", "faithfulness", "train", "methods", "jobs", "runlock", "demo_e5"]
# old flat modules whose name is now a subpackage: the package must not offer the old module's names
REUSED = {"data": ["load_nli", "XNLI_LANGS", "SAMPLE_DIR"], "neurons": ["identify", "load_neurons", "NEURONS_FILE"]}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def top_level_imports(name: str, path: Path, known, functions: bool = False) -> set[str]:
    """mlt_core modules `name` imports when it is imported: statements outside functions (module level, class
    bodies, top-level if/try blocks), resolved to the deepest module that exists. `functions`: those inside
    functions too (what the module may import when used)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and not functions:
                continue  # runs when called, not when imported
            if isinstance(child, ast.Import):
                out.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[:len(package.split(".")) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                subs = [f"{mod}.{a.name}" for a in child.names if f"{mod}.{a.name}" in known]
                # `from pkg import submodule` needs the submodule; `from pkg import name` needs pkg itself
                out.update(subs)
                if len(subs) < len(child.names):
                    out.add(mod)
            visit(child)

    visit(tree)
    return {m for m in out if m in known and m != name}


def import_graph(functions: bool = False) -> dict[str, set[str]]:
    mods = modules()
    return {name: top_level_imports(name, path, mods, functions) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle [a, b, ..., a], or None (depth-first search, white/grey/black)."""
    state, stack = {}, []

    def dfs(u):
        state[u] = "grey"
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == "grey":
                return stack[stack.index(v):] + [v]
            if v not in state and (found := dfs(v)):
                return found
        stack.pop()
        state[u] = "black"
        return None

    for u in sorted(graph):
        if u not in state and (found := dfs(u)):
            return found
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_absolute_and_relative_top_level_imports_only(tmp_path):
    mods = {"mlt_core.x.a": None, "mlt_core.x.b": None, "mlt_core.x": None, "mlt_core.y": None, "mlt_core.z": None}
    f = tmp_path / "a.py"
    f.write_text("from mlt_core.x import b\nfrom .. import y\ntry:\n    import mlt_core.x\nexcept ImportError:\n    pass\n"
                 "def f():\n    from mlt_core import z\n", encoding="utf-8")
    assert top_level_imports("mlt_core.x.a", f, mods) == {"mlt_core.x.b", "mlt_core.y", "mlt_core.x"}
    assert top_level_imports("mlt_core.x.a", f, mods, functions=True) == {"mlt_core.x.b", "mlt_core.y", "mlt_core.x",
                                                                          "mlt_core.z"}


def test_no_import_cycle_at_module_level():
    graph = import_graph()
    assert len(graph) > 60 and graph["mlt_core.forward.run"] >= {"mlt_core.model.checkpoint", "mlt_core.forward.hooks"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_function_level_import_hides_a_cycle():
    """Function-level imports are for keeping torch & co. out of light modules, not for breaking a cycle."""
    graph = import_graph(functions=True)
    assert graph["mlt_core.training.trainer"] >= {"mlt_core.training.methods", "mlt_core.neurons.lape"}  # lazy ones seen
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle through a function-level import: " + " -> ".join(cycle)


def test_no_module_imports_streamlit():
    offenders = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{name}:{node.lineno} {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert not offenders, offenders


def test_training_package_and_config_import_without_torch():
    code = ("import sys, mlt_core.training, mlt_core.training.config; "
            "from mlt_core.training import METHODS, DEFAULT_LR, SUPPORTED; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules), tuple(METHODS) == SUPPORTED, "
            "set(DEFAULT_LR) == set(METHODS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.stdout.split() == ["[]", "True", "True"], out.stdout + out.stderr[-500:]


def test_imports_inside_mlt_core_are_absolute():
    """One style (from mlt_core.model.checkpoint import ...): a relative import merged in from before the layout
    would silently point into the wrong package."""
    relative = [f"{name}:{node.lineno}" for name, path in modules().items()
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative, f"relative imports (write them as from mlt_core.<package>.<module> import ...): {relative}"


@pytest.mark.parametrize("old", GONE)
def test_old_flat_module_is_gone(old):
    assert not (PKG / f"{old}.py").exists()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"mlt_core.{old}")


@pytest.mark.parametrize("old", sorted(REUSED))
def test_a_reused_name_is_a_plain_package_not_the_old_module(old):
    assert (PKG / old).is_dir() and not (PKG / f"{old}.py").exists()
    pkg = importlib.import_module(f"mlt_core.{old}")
    assert not [n for n in REUSED[old] if hasattr(pkg, n)]  # no shim re-exporting the old module's names

"""The layout of ui/ and pages/, read from the source (ast): no import cycle in ui/ (imports inside
functions included, so a function-level import cannot hide one), one ui module per page, and the layers
(pages never import torch or transformers; mlt_core never imports streamlit)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# a page's ui module is its name in lower case, but for these
PAGE_MODULE_ALIASES = {"language_neurons": "neurons"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, anywhere in the file (top level or inside a function), absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from ..x import y
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from ui import state`: the module ui.state
    return out


def ui_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """ui module -> the ui modules it imports."""
    files = sorted((root / "ui").rglob("*.py"))
    mods = {module_name(f, root): f for f in files}
    return {m: {i for i in imported_modules(f, root) if i in mods and i != m} for m, f in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle [a, b, ..., a], or None."""
    done, path = set(), []

    def visit(m):
        if m in path:
            return path[path.index(m):] + [m]
        if m in done:
            return None
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if (c := visit(n)) is not None:
                return c
        path.pop()
        done.add(m)
        return None

    for m in sorted(graph):
        if (c := visit(m)) is not None:
            return c
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]


def test_a_function_level_import_is_an_edge(tmp_path):
    (tmp_path / "ui" / "p").mkdir(parents=True)
    (tmp_path / "ui" / "__init__.py").write_text("")
    (tmp_path / "ui" / "p" / "__init__.py").write_text("from ui.p.views import render\n")
    (tmp_path / "ui" / "p" / "views.py").write_text("def render():\n    from ui.p import PAGE\n")
    (tmp_path / "ui" / "w.py").write_text("from . import p\nfrom .p import views as v\n")
    g = ui_graph(tmp_path)
    assert g["ui.p.views"] == {"ui.p"} and g["ui.w"] == {"ui", "ui.p", "ui.p.views"}
    assert find_cycle(g) == ["ui.p", "ui.p.views", "ui.p"]


def test_ui_has_no_import_cycle():
    graph = ui_graph()
    assert "ui.playground" in graph and "ui.widgets.models" in graph  # the graph is the real one
    assert "ui.playground.attention" in graph["ui.playground.views"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def pages() -> list[Path]:
    return sorted((ROOT / "pages").glob("*.py"))


def test_every_page_has_its_ui_module():
    assert len(pages()) >= 8
    for page in pages():
        m = re.fullmatch(r"\d+_(\w+)\.py", page.name)
        assert m, f"{page.name}: pages are named N_Name.py"
        mod = PAGE_MODULE_ALIASES.get(m[1].lower(), m[1].lower())
        assert (ROOT / "ui" / f"{mod}.py").is_file() or (ROOT / "ui" / mod / "__init__.py").is_file(), \
            f"{page.name} has no ui/{mod}.py (or package)"
        assert f"ui.{mod}" in imported_modules(page), f"{page.name} does not import ui.{mod}"


def test_pages_import_no_torch_or_transformers():
    for page in pages():
        heavy = {i for i in imported_modules(page) if i.split(".")[0] in ("torch", "transformers")}
        assert not heavy, f"{page.name} imports {sorted(heavy)}"


@pytest.mark.parametrize("folder", ["mlt_core"])
def test_the_core_never_imports_streamlit(folder):
    files = sorted((ROOT / folder).rglob("*.py"))
    assert ROOT / "mlt_core" / "charts" / "bertviz.py" in files and ROOT / "mlt_core" / "eval" / "error_table.py" in files
    for f in files:
        st = {i for i in imported_modules(f) if i.split(".")[0] == "streamlit"}
        assert not st, f"{f.relative_to(ROOT)} imports {sorted(st)}"

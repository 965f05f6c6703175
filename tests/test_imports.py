"""The package's import graph, built from the source (ast): no circles, and imports at module
top except a heavy optional dependency loaded where it is needed (CuPy, mpi4py, matplotlib,
scipy.signal, slow to import) with its reason in a comment."""
import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "wavecore")
# what may be imported inside a function: optional or heavy, loaded only where it is needed
LAZY = ("cupy", "cupy_backends", "cuda", "mpi4py", "matplotlib", "scipy", "importlib", "._gpu",
        ".._gpu", ".gpu", ".sampler", ".model", ".cublas")


def modules() -> dict:
    """{dotted name: (path, ast)} of every module of the package."""
    out = {}
    for d, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                name = rel[:-len(".__init__")] if rel.endswith(".__init__") else rel
                with open(path, encoding="utf-8") as fh:
                    out[name] = (path, ast.parse(fh.read()))
    return out


def _target(name, path, node):
    """The absolute module an ImportFrom names."""
    if not node.level:
        return node.module
    base = name.split(".")
    if not path.endswith("__init__.py"):
        base = base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mods) -> dict:
    """{module: {modules of the package it imports}}: ``from P import m`` imports P.m where m is
    a module, else P."""
    graph = {}
    for name, (path, tree) in mods.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                mod = _target(name, path, node)
                for a in node.names:
                    if f"{mod}.{a.name}" in mods:
                        edges.add(f"{mod}.{a.name}")
                    elif mod in mods:
                        edges.add(mod)
        edges.discard(name)
    return graph


def circles(graph) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circle():
    mods = modules()
    assert "wavecore.study.loop" in mods and "wavecore.cli.main" in mods
    assert circles(imports(mods)) == []


def test_layers_import_downward_only():
    graph = imports(modules())
    assert not any(m.startswith("wavecore.study")
                   for m in graph["wavecore.engine.config"] | graph["wavecore.training.trainer"])
    assert "wavecore.display" not in graph["wavecore.engine.config"]
    assert "wavecore.engine.backends" not in graph["wavecore.engine.audio"]


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_sit_at_module_top(name):
    """An import inside a function is allowed only for what LAZY lists, and says why."""
    path, tree = modules()[name]
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    top = {id(n) for n in tree.body}
    top |= {id(n) for t in tree.body if isinstance(t, (ast.Try, ast.If))
            for n in ast.walk(t) if isinstance(n, (ast.Import, ast.ImportFrom))}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
            what = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                ["." * node.level + (node.module or "")]
            if (not all(w.split(".")[0] in LAZY or w in LAZY for w in what)
                    or "#" not in lines[node.lineno - 1]):
                bad.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, ("imports inside functions (move them to the top, or give the reason): "
                     + "; ".join(bad))

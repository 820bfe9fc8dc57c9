#!/usr/bin/env python3
"""The crate's module graph from its `use` edges and qualified paths, and its cycles.

Each file under src/ is a module (mod.rs: its directory's). An edge M -> N means M names an
item of N (`use crate::a::b::Item`, `super::b::f()`); the longest module prefix of the path is
N. An item re-exported (`pub use`) counts for the module that defines it. Test modules
(`#[cfg(test)]` onwards, `*_tests.rs`) are left out: they may see anything.
Usage: hack/module-graph.py [--edges]   prints the cycles (strongly connected components),
and with --edges every edge; exits 1 if there is a cycle.
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(file):
    parts = list(file.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = tree.strip()
    if "{" not in tree:
        return [tree]
    head, body = tree.split("{", 1)
    body = body.rsplit("}", 1)[0]
    parts, depth, current = [], 0, ""
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [head + p2 for p in parts if p.strip() for p2 in expand(p)]


def paths(text):
    text = re.sub(r"//[^\n]*", "", text)
    found = []
    for use in re.findall(r"\buse\s+([^;]+);", text):
        found.extend(expand(" ".join(use.split())))
    rest = re.sub(r"\buse\s+[^;]+;", "", text)
    found.extend(m.group(0) for m in PATH.finditer(rest))
    return found


def reexports(modules):
    """(module, name) -> the module that defines `name`, for each `pub use` of a module: an
    edge goes to where an item is defined, not to the module that re-exports it."""
    found = {}
    for module, file in modules.items():
        text = file.read_text().split("#[cfg(test)]")[0]
        for use in re.findall(r"\bpub use\s+([^;]+);", text):
            for path in expand(" ".join(use.split())):
                *_, last = path.split("::")
                name = last.split(" as ")[-1].strip()
                target = resolve(path, module, modules, {})
                if target is not None and target != module:
                    found[(module, name)] = target
    return found


def resolve(path, here, modules, reexported):
    segs = [s.strip() for s in path.split("::") if s.strip()]
    base = list(here)
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "self":
        segs = segs[1:]
    elif segs[0] != "super" and (*here, segs[0]) not in modules:
        return None  # another crate, or an item in scope
    while segs and segs[0] == "super":
        base, segs = base[:-1], segs[1:]
    full = base + [s.split(" as ")[0] for s in segs]
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in modules:
            module = tuple(full[:n])
            item = full[n] if n < len(full) else None
            return reexported.get((module, item), module)
    return None


def graph():
    files = [f for f in SRC.rglob("*.rs") if not f.name.endswith("_tests.rs")]
    modules = {module_of(f): f for f in files}
    reexported = reexports(modules)
    edges = set()
    for module, file in modules.items():
        text = file.read_text().split("#[cfg(test)]")[0]
        for path in paths(text):
            target = resolve(path, module, modules, reexported)
            if target is not None and target != module and target != ():
                edges.add((module, target))
    return modules, edges


def cycles(modules, edges):
    """Tarjan's strongly connected components of more than one module."""
    succ = {m: sorted(t for s, t in edges if s == m) for m in modules}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in succ[v]:
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "crate"


modules, edges = graph()
found = cycles(modules, edges)
if "--edges" in sys.argv:
    for s, t in sorted(edges):
        print(f"{name(s)} -> {name(t)}")
print(f"{len(modules)} modules, {len(edges)} edges, {len(found)} cycle(s)")
for comp in found:
    inner = sorted((s, t) for s, t in edges if s in comp and t in comp)
    print("cycle: " + ", ".join(f"{name(s)} -> {name(t)}" for s, t in inner))
sys.exit(1 if found else 0)

"""CONTRIBUTING.md's module map is the real import graph: every import points up the table."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

PACKAGE = ROOT / "recsys_lite"


def _layers() -> dict[str, int]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    layers = {}
    for layer, modules in re.findall(r"^\| (\d+) \| ([^|]+) \|", section, re.M):
        for name in re.findall(r"`(\w+)`", modules):
            layers[name] = int(layer)
    return layers


def _unit(path) -> str:
    """The top-level module a file belongs to: recsys_lite/data/files.py -> data."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" else "recsys_lite"


def _imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "recsys_lite":
            parts = node.module.split(".")
            found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("recsys_lite.")}
    return found


def test_every_module_is_on_the_map():
    layers = _layers()
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {"recsys_lite"}
    mapped = set(layers)
    assert units == mapped, f"on the map, not in the code: {mapped - units}; not on the map: {units - mapped}"


def test_imports_point_up_the_map():
    layers = _layers()
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        if unit == "recsys_lite":
            continue
        for target in _imports(path) - {unit}:
            if layers[target] >= layers[unit]:
                wrong.append(f"{path.relative_to(ROOT)} ({unit}, layer {layers[unit]}) imports {target} "
                             f"(layer {layers[target]})")
    assert not wrong, "imports that point down CONTRIBUTING.md's module map:\n" + "\n".join(wrong)

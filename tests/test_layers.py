"""Every import inside reelhouse points down the layers of DESIGN.md ("Layers"), read from the code itself.

A module may import its own layer and the ones below it, never one above: the wire vocabulary knows no router, the
domain no job step, a step no dispatcher. Function-local imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reelhouse

PACKAGE = Path(reelhouse.__file__).parent

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, list[str]]] = [
    ("settings", ["reelhouse", "reelhouse.settings", "reelhouse.logs", "reelhouse.metrics"]),
    ("infrastructure", ["reelhouse.storage", "reelhouse.net", "reelhouse.media", "reelhouse.ai"]),
    ("db", ["reelhouse.db"]),
    ("wire", ["reelhouse.wire"]),
    ("domain", [
        "reelhouse.jobs.dispatch", "reelhouse.jobs.params", "reelhouse.jobs.queue", "reelhouse.upload_urls",
        "reelhouse.runtime", "reelhouse.tokens", "reelhouse.webhooks", "reelhouse.catalog", "reelhouse.jobs.step",
        "reelhouse.playback.access", "reelhouse.users",
    ]),
    ("steps", ["reelhouse.jobs"]),
    ("dispatch", ["reelhouse.jobs.registry", "reelhouse.jobs.worker", "reelhouse.jobs.reconcile",
                  "reelhouse.webhooks.delivery", "reelhouse.uploads.cleanup", "reelhouse.jobs.celery_app"]),
    ("http", ["reelhouse.api", "reelhouse.playback", "reelhouse.uploads", "reelhouse.app", "reelhouse.testing",
              "reelhouse.web"]),
    ("cli", ["reelhouse.cli", "reelhouse.__main__", "reelhouse.media_commands", "reelhouse.backup"]),
]  # fmt: skip


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST) -> set[str]:
    """Every reelhouse module the code imports, `from reelhouse.x import y` counting as reelhouse.x.y when y is a
    module of its own."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / candidate.replace(".", "/") / "__init__.py").exists()
                names.add(candidate if is_module else node.module)
    return {name for name in names if name == "reelhouse" or name.startswith("reelhouse.")}


def upward_imports() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        importer = module_name(path)
        for name in sorted(imported(ast.parse(path.read_text(), str(path)))):
            if layer_of(name) > layer_of(importer):
                found.append(f"{importer} ({LAYERS[layer_of(importer)][0]}) imports {name} "
                             f"({LAYERS[layer_of(name)][0]})")
    return found


def test_every_import_points_down_the_layers() -> None:
    assert upward_imports() == []


def test_the_layer_check_sees_an_upward_import() -> None:
    assert layer_of("reelhouse.wire.views") < layer_of("reelhouse.api.media")
    assert imported(ast.parse("from reelhouse.api import media\nfrom reelhouse.wire.views import timestamp")) == {
        "reelhouse.api.media", "reelhouse.wire.views"}

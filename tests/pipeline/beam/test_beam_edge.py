"""Beam stays at the edge: only pipeline/beam/ and runners/ import `apache_beam`, so the pure stages,
the schemas, the lexicons and the trainer run, and are tested, without it."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PURE_PACKAGES = ("pipeline", "knowledge", "schemas", "trainer")
BEAM_EDGE = (REPO / "pipeline" / "beam", REPO / "runners")


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` of the file names, at any depth (function-level
    imports included); relative imports are resolved against the file's package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(REPO).parent.parts
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                names.add(f"{base}.{node.module}" if node.module else base)
            else:
                names.add(node.module)
    return names


def _is(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_walk_sees_the_edge_itself():
    """The check below would pass vacuously if the walk found nothing: the edge does import Beam."""
    edge = [path for path in python_files(*BEAM_EDGE)
            if any(_is(name, "apache_beam") for name in imported_modules(path))]
    assert REPO / "pipeline" / "beam" / "stages.py" in edge and REPO / "runners" / "local.py" in edge


def test_no_module_outside_the_beam_edge_imports_apache_beam_or_the_edge():
    offenders = []
    for path in python_files(*(REPO / name for name in PURE_PACKAGES)):
        if any(path.is_relative_to(edge) for edge in BEAM_EDGE):
            continue
        beam = [name for name in imported_modules(path)
                if _is(name, "apache_beam") or _is(name, "pipeline.beam") or _is(name, "runners")]
        if beam:
            offenders.append(f"{path.relative_to(REPO)}: {', '.join(sorted(beam))}")
    assert offenders == []
    assert len(python_files(REPO / "pipeline")) > 20  # the walk really walked


def test_commands_reach_beam_only_through_pipeline_beam_and_runners():
    """The command layer builds a runner's options and calls `pipeline.beam`; Beam's own classes (even
    `PipelineOptions`, the type `runner_options` returns) come to it through `runners/`."""
    direct = {str(path.relative_to(REPO)) for path in python_files(REPO / "erlangshen_data")
              if any(_is(name, "apache_beam") for name in imported_modules(path))}
    assert direct == set()
    through_edge = {str(path.relative_to(REPO)) for path in python_files(REPO / "erlangshen_data")
                    if any(_is(name, "pipeline.beam") or _is(name, "runners") for name in imported_modules(path))}
    assert "erlangshen_data/commands/prepare.py" in through_edge  # the walk sees the commands' imports


def test_the_pure_modules_import_without_loading_beam():
    modules = sorted(".".join(path.relative_to(REPO).with_suffix("").parts)
                     for path in python_files(*(REPO / name for name in ("pipeline", "knowledge", "schemas")))
                     if not path.is_relative_to(REPO / "pipeline" / "beam"))
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'apache_beam' or m.startswith('apache_beam.')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

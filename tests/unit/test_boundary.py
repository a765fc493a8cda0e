"""The package boundary: the app imports no torch/transformers; the engine imports no Textual and no app."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_app_modules_import_no_torch():
    code = ("import importlib, pkgutil, sys, lmftui\n"
            "for m in pkgutil.walk_packages(lmftui.__path__, 'lmftui.'):\n"
            "    importlib.import_module(m.name)\n"
            "heavy = sorted(n for n in ('torch', 'transformers', 'datasets', 'peft', 'trl') if n in sys.modules)\n"
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def _engine_violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("lmftui."):
            names = [node.value]  # e.g. `python -m lmftui.cli` in a child process's argv
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                  if name.split(".")[0] in ("lmftui", "textual")]
    return found


def test_engine_never_reaches_into_the_app():
    violations = [v for path in sorted((ROOT / "engine").rglob("*.py")) for v in _engine_violations(path)]
    assert violations == []


def test_engine_runs_as_its_own_entry_point():
    done = subprocess.run([sys.executable, "-m", "engine", "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("train", "data", "export", "chat"))
    code = ("import runpy, sys\nsys.argv = ['engine', '--help']\ntry:\n    runpy.run_module('engine', run_name='__main__')\n"
            "except SystemExit:\n    pass\nprint(sorted({n.split('.')[0] for n in sys.modules} & {'lmftui', 'textual'}))")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert child.stdout.strip().endswith("[]"), child.stderr


def test_child_process_reports_use_the_one_wire_format():
    """Records carry their kind in `type` (engine.wire), never in an `event` key of their own."""
    found = []
    for path in sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "lmftui").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "event" for k in node.keys):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []

"""Build step: the repository's top-level presets/ and assets/ go into the wheel as engine/shipped/."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("presets", "assets")  # found at run time by engine.shipped.shipped_dir


class BuildPyWithShipped(build_py):
    """build_py, plus a copy of the shipped folders inside the engine package (not for editable installs)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in SHIPPED:
            target = Path(self.build_lib) / "engine" / "shipped" / name
            shutil.rmtree(target, ignore_errors=True)  # a reused build/ folder keeps no file the repository dropped
            shutil.copytree(HERE / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithShipped})

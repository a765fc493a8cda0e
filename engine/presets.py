"""Quick-start presets: LLaMA-Factory YAML files in `presets/`, titled by their first comment line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, TrainConfig, load_config
from .shipped import shipped_dir, shipped_root

NOT_PRESETS = {"sizing.yaml"}


def presets_dir() -> Path:
    """The presets folder: $LMF_TUI_PRESETS or the one shipped beside the engine."""
    return Path(os.environ.get("LMF_TUI_PRESETS") or shipped_dir("presets"))


def assets_dir() -> Path:
    """Data shipped with lmf-tui (demo data sets and their dataset_info.json)."""
    return shipped_dir("assets")


@dataclass(frozen=True)
class Preset:
    """One quick start: `# Title — description` on its first line, then the YAML keys."""

    name: str
    title: str
    description: str
    path: Path
    needs_gpu: bool

    def load(self, overrides: list[str] | None = None) -> TrainConfig:
        """The preset's config; relative data paths resolve against the shipped files (assets/data)."""
        config = load_config(self.path, overrides)
        if config.dataset_dir and not Path(config.dataset_dir).is_absolute():
            candidate = shipped_root() / config.dataset_dir
            if candidate.exists() and not Path(config.dataset_dir).exists():
                config = config.model_copy(update={"dataset_dir": str(candidate)})
        return config


def list_presets() -> list[Preset]:
    """Every preset, the CPU-runnable ones first."""
    found = []
    for path in sorted(presets_dir().glob("*.yaml")):
        if path.name in NOT_PRESETS:
            continue
        first = path.read_text(encoding="utf-8").splitlines()[:1]
        head = first[0].lstrip("#").strip() if first and first[0].startswith("#") else path.stem
        title, _, description = head.partition(" — ")
        found.append(Preset(path.stem, title.strip(), description.strip(), path, "[gpu]" in head.lower()))
    return sorted(found, key=lambda p: (p.needs_gpu, p.name != "demo", p.name))


def get_preset(name: str) -> Preset:
    """A preset by file stem, or a one-line error listing the names."""
    for preset in list_presets():
        if preset.name == name:
            return preset
    names = ", ".join(p.name for p in list_presets())
    raise ConfigError(f"preset '{name}' not found — choose one of: {names}")

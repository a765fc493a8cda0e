"""User settings (theme, runs folder, chart refresh), saved atomically under app_home()."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from engine.rundir import app_home, runs_root

SETTINGS_FILE = "settings.json"


class Settings(BaseModel):
    """Everything the app remembers between sessions."""

    theme: str = Field("textual-dark", description="Textual theme name (ctrl+t toggles dark/light).")
    runs_dir: str | None = Field(None, description="Runs folder; --runs-dir and LMF_TUI_RUNS take precedence.")
    chart_refresh_s: float = Field(0.5, ge=0.1, le=10, description="Seconds between chart redraws.")
    log_scale: bool = Field(False, description="Show the loss chart on a log scale.")
    smoothing: float = Field(0.6, ge=0, lt=1, description="Exponential smoothing of the loss curve (0 = raw).")
    linger_notice_shown: bool = Field(False, description="The logout-kills-runs notice was shown once.")


def settings_path() -> Path:
    """Where the settings file lives."""
    return app_home() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings; defaults when the file is missing or unreadable."""
    path = path or settings_path()
    try:
        return Settings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically."""
    from engine.config import atomic_write_text  # deferred: the schema is slow to build, first paint is not

    return atomic_write_text(path or settings_path(), settings.model_dump_json(indent=2) + "\n")


def effective_runs_dir(settings: Settings) -> Path:
    """The runs folder: $LMF_TUI_RUNS (also set by --runs-dir), else the saved setting, else the default."""
    if os.environ.get("LMF_TUI_RUNS"):
        return runs_root()
    return Path(settings.runs_dir).expanduser() if settings.runs_dir else runs_root()

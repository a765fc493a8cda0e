"""A hub id that is already in the Hugging Face cache trains offline: the prefetch finds it, no network needed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.test_resume import write_config
from tests.unit.test_download import cached_model

pytestmark = pytest.mark.slow


def test_a_cached_hub_model_trains_offline(tiny_model_dir: Path, tiny_data_dir: Path, tmp_path: Path) -> None:
    snapshot = cached_model(tmp_path / "hf" / "hub", "org/tiny-llama")
    for item in tiny_model_dir.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, snapshot / item.name)
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "run", max_steps=2)
    config.write_text(config.read_text().replace(str(tiny_model_dir), "org/tiny-llama"))
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "lmftui.cli", "train", str(config)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    assert "Done at step 2" in done.stdout

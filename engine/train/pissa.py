"""pissa_convert: a PiSSA adapter also saved as a plain LoRA that applies to the original base weights
(peft's path_initial_model_for_weight_conversion), in pissa_converted/ as LLaMA-Factory does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

INIT_DIR, CONVERTED_DIR = "pissa_init", "pissa_converted"


def save_initial(model: Any, run_dir: Path) -> None:
    """The adapter as initialised (before any step): the reference the conversion subtracts."""
    _save_plain(model, run_dir / INIT_DIR)


def save_converted(model: Any, run_dir: Path) -> Path:
    """The trained adapter converted to a LoRA on the original base."""
    return _save_plain(model, run_dir / CONVERTED_DIR, path_initial_model_for_weight_conversion=str(run_dir / INIT_DIR))


def _save_plain(model: Any, path: Path, **kw: Any) -> Path:
    peft_config = model.peft_config["default"]
    init = peft_config.init_lora_weights
    peft_config.init_lora_weights = True  # saved as a plain adapter: loading it must not re-run PiSSA
    try:
        model.save_pretrained(str(path), **kw)
    finally:
        peft_config.init_lora_weights = init
    return path

"""Presets are true: each loads, validates for training and resolves its data set; titles parse."""

from __future__ import annotations

import pytest

from engine.config import check_config
from engine.data.dataset_info import resolve_datasets
from engine.presets import get_preset, list_presets


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.name)
def test_preset_validates_and_resolves_data(preset):
    config = preset.load()
    assert check_config(config, "train") == []
    assert resolve_datasets(config)
    assert preset.title and preset.description


def test_demo_preset_runs_anywhere():
    demo = get_preset("demo")
    config = demo.load()
    assert not demo.needs_gpu and config.model_name_or_path.startswith("embedded:")
    assert not (config.bf16 or config.fp16 or config.quantization_bit)
    assert list_presets()[0].name == "demo"


def test_unknown_preset_lists_names():
    with pytest.raises(Exception, match="demo"):
        get_preset("nope")

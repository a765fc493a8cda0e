"""ExportScreen: fills its form from a YAML, runs `lmf-tui export --progress-jsonl` and shows each step."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from textual.widgets import Checkbox, DataTable, Input, Static

from lmftui.screens.export import SAVED_CONFIG, ExportScreen
from tests.tiny import build_adapter, build_chat_model
from tests.tui.pilot_helpers import Host, until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(600)]




def test_every_binding_has_an_id_and_tooltip():
    assert all(b.id and b.id.startswith("export.") and b.tooltip for b in ExportScreen.BINDINGS)


async def test_export_runs_and_shows_each_step(tmp_path):
    base = build_chat_model(tmp_path / "base")
    lora = build_adapter(base, tmp_path / "lora")
    gguf = ["f16"] if importlib.util.find_spec("llama_cpp") else []
    (tmp_path / "export.yaml").write_text(yaml.safe_dump({
        "model_name_or_path": str(base), "adapter_name_or_path": str(lora), "template": "chatml",
        "export_dir": str(tmp_path / "out"), "export_gguf": gguf or None}))
    screen = ExportScreen(str(tmp_path / "export.yaml"))
    async with Host(screen).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert screen.query_one("#export-adapter_name_or_path", Input).value == str(lora)
        assert screen.query_one("#gguf-f16", Checkbox).value == bool(gguf)
        await pilot.press("ctrl+r")
        table = screen.query_one("#export-steps", DataTable)
        steps = ["merge", *(["gguf f16", "check", "ollama"] if gguf else [])]
        assert [str(key.value) for key in table.rows] == steps
        status = screen.query_one("#export-status", Static)
        await until(pilot, lambda: "export done" in str(status.render()) or "failed" in str(status.render()))
        assert str(status.render()) == "export done"
        assert all(str(table.get_cell(step, "status")) == "✓ done" for step in steps)
    assert (tmp_path / "out" / "model.safetensors").exists()
    saved = yaml.safe_load((tmp_path / "out" / SAVED_CONFIG).read_text())
    assert saved["adapter_name_or_path"] == str(lora) and saved["template"] == "chatml"
    if gguf:
        assert (tmp_path / "out" / "out-f16.gguf").exists() and (tmp_path / "out" / "Modelfile").exists()


async def test_bad_form_shows_the_error_and_runs_nothing(tmp_path):
    screen = ExportScreen()
    async with Host(screen).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen.query_one("#export-model_name_or_path", Input).value = str(tmp_path / "m")
        await pilot.press("ctrl+r")
        status = screen.query_one("#export-status", Static)
        assert "export_dir: is required" in str(status.render()) and status.has_class("error")
        assert screen.proc is None and not screen.query_one("#export-steps", DataTable).rows


async def test_form_is_labelled_ticks_q4_k_m_and_shows_the_plan(tmp_path):
    (tmp_path / "export.yaml").write_text(yaml.safe_dump({"model_name_or_path": "m", "export_dir": str(tmp_path)}))
    screen = ExportScreen(str(tmp_path / "export.yaml"))
    has_llama = importlib.util.find_spec("llama_cpp") is not None
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        labels = [str(label.render()) for label in screen.query(".export-label")]
        assert labels[:5] == ["export YAML", "base model", "adapter", "chat template", "export to"]
        assert screen.query_one("#gguf-q4_k_m", Checkbox).value == has_llama
        assert not any(screen.query_one(f"#gguf-{k}", Checkbox).value for k in ("f16", "q8_0", "q6_k"))
        table = screen.query_one("#export-steps", DataTable)
        planned = ["merge", "gguf q4_k_m", "check", "ollama"] if has_llama else ["merge"]
        assert [str(key.value) for key in table.rows] == planned
        assert all(str(table.get_cell(step, "status")) == "waiting" for step in planned)
        screen.query_one("#gguf-f16", Checkbox).value = True
        await pilot.pause()
        assert "gguf f16" in [str(key.value) for key in table.rows]

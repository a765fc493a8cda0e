"""Model screen: a method that fits only on several GPUs shows its strategy, and choosing it sets deepspeed."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from engine.hardware.info import GpuInfo, HardwareInfo
from lmftui.screens.model import inspect_model

from .conftest import make_app, open_model_screen, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
LLAMA8B = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models" / "llama-3-8b"


async def test_a_row_that_needs_zero2_puts_deepspeed_in_the_config(home: Path) -> None:
    eight = HardwareInfo(gpus=[GpuInfo(i, "H100", 80.0) for i in range(8)], cpu_name="cpu", cpu_count=8,
                         ram_total_gb=512, ram_available_gb=500, backend="cuda")
    app = make_app(home)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_model_screen(app, pilot, LLAMA8B)
        screen.on_model_inspected(inspect_model(str(LLAMA8B), eight))
        table = screen.query_one("#methods", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        assert [str(c) for c in table.get_row_at(0)][:4] == ["full", "32", "68.5", "2 · DeepSpeed ZeRO-2"]
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.draft.get("finetuning_type") == "full")
        assert app.draft.get("deepspeed") == "z2"

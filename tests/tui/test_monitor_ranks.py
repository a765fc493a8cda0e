"""The monitor of a multi-rank run: world size, nodes and strategy under the title."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import EventWriter
from lmftui.screens.monitor import MonitorScreen, ranks_text

from .conftest import make_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def test_ranks_line() -> None:
    assert ranks_text({}, "") == "" and ranks_text({"world_size": 1, "strategy": "zero3"}, "") == ""
    assert ranks_text({"world_size": 2, "strategy": "ddp"}, "") == "2 ranks · DDP"
    assert ranks_text({"world_size": 16, "nnodes": 2, "strategy": "zero3_offload"}, "GPU 0 31.0/80.0 GB") == (
        "16 ranks on 2 nodes · DeepSpeed ZeRO-3 + CPU offload · GPU 0 31.0/80.0 GB")


async def test_monitor_shows_world_size_and_strategy(home: Path) -> None:
    run_dir = home / "runs" / "ranks"
    journal = EventWriter(run_dir)
    journal.emit("start", stage="sft", model="tiny-llama", max_steps=2, num_examples=8, estimate_gb=0.1,
                 plan={"world_size": 8, "nnodes": 2, "strategy": "fsdp"})
    journal.emit("step", step=1, max_steps=2, epoch=0.5, loss=1.0, lr=1e-4, tokens_per_s=9.0, mem_gb=0.4)
    journal.close()
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.step == 1)
        title = app.screen.query_one("#run-title")
        await wait_for(pilot, lambda: "8 ranks on 2 nodes · FSDP2" in str(title.render()))

"""Config editor: the multi-GPU strategy is one choice that sets deepspeed / fsdp, with a line explaining it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Select, Static

from lmftui.screens.config_editor import ConfigEditorScreen
from lmftui.widgets.config_form import ConfigForm, strategy_name

from .conftest import make_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def test_the_choice_follows_the_keys(tmp_path) -> None:
    assert strategy_name({}) == "ddp"
    assert strategy_name({"deepspeed": "z3"}) == "zero3"
    assert strategy_name({"fsdp": "full_shard auto_wrap offload"}) == "fsdp_offload"
    own = tmp_path / "ds.json"
    own.write_text('{"zero_optimization": {"stage": 2}}')
    assert strategy_name({"deepspeed": str(own)}) == "zero2*"  # a file of the user's own
    assert strategy_name({"deepspeed": str(tmp_path / "missing.json")}) is None


async def test_choosing_zero3_sets_deepspeed_and_explains_it(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
        form = app.screen.query_one(ConfigForm)
        form.focus_field("deepspeed")
        await wait_for(pilot, lambda: "deepspeed" in form.rows() and form.query("#f-strategy"))
        explain = form.query_one("#strategy-explain", Static)
        assert "whole model" in str(explain.render())  # DDP by default
        form.query_one("#f-strategy", Select).value = "zero3"
        await wait_for(pilot, lambda: form.values["deepspeed"] == "z3")
        await wait_for(pilot, lambda: "weights, gradients and optimizer state all split" in str(explain.render()))
        assert form.rows()["deepspeed"].editor.value == "z3"
        await wait_for(pilot, lambda: app.draft.get("deepspeed") == "z3")  # validated into the draft
        form.rows()["deepspeed"].editor.value = ""  # clearing the key by hand goes back to DDP
        await wait_for(pilot, lambda: form.query_one("#f-strategy", Select).value == "ddp")
        await wait_for(pilot, lambda: not app.draft.get("deepspeed"))

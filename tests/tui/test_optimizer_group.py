"""Config editor: the Optimizer group shows only the chosen optimizer's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.relevance import unused_fields
from lmftui.screens.config_editor import ConfigEditorScreen
from lmftui.widgets.config_form import ConfigForm

from .conftest import make_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def test_unused_fields_follow_the_chosen_optimizer():
    plain = unused_fields({})
    assert {"galore_rank", "apollo_rank", "badam_mode"} <= plain and "optim" not in plain
    badam = unused_fields({"use_badam": True, "badam_mode": "ratio"})
    assert "badam_update_ratio" not in badam and "badam_switch_interval" in badam and "galore_rank" in badam
    assert "optim" in unused_fields({"use_muon": True})


async def test_choosing_galore_shows_its_keys_only(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
        form = app.screen.query_one(ConfigForm)
        form.focus_field("use_galore")
        await wait_for(pilot, lambda: "galore_rank" in form.rows())
        await pilot.pause()
        rows = form.rows()
        assert not rows["galore_rank"].display and rows["use_badam"].display and rows["optim"].display
        rows["use_galore"].editor.value = True
        await wait_for(pilot, lambda: rows["galore_rank"].display)
        assert not rows["apollo_rank"].display and not rows["badam_mode"].display
        assert form.values["use_galore"] is True

"""PredictScreen: a real tiny run's base and tuned answers come from `python -m engine predict --jsonl`."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from engine.config import parse_config
from lmftui.screens.predict import PredictScreen
from tests.tiny import build_model_dir, write_dataset_dir
from tests.tui.conftest import make_app, write_journal
from tests.tui.pilot_helpers import Host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory) -> Path:
    from engine.train import run_training

    root = tmp_path_factory.mktemp("predict-screen")
    model, data = build_model_dir(root / "model"), write_dataset_dir(root / "data")
    out = root / "run"
    run_training(parse_config(dict(
        model_name_or_path=str(model), dataset="tiny_identity", dataset_dir=str(data), output_dir=str(out),
        do_train=True, val_size=4, cutoff_len=64, per_device_train_batch_size=4, learning_rate=1e-2, max_steps=10,
        logging_steps=5, save_steps=1000, report_to="none"), "train"))
    return out


@pytest.mark.slow
async def test_base_and_tuned_answer_side_by_side(tuned_run):
    screen = PredictScreen(str(tuned_run))
    async with Host(screen).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen.query_one("#predict-rows", Input).value = "3"
        screen.query_one("#predict-max", Input).value = "6"
        await pilot.press("ctrl+r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        status = str(screen.query_one("#predict-status", Static).render())
        assert status.startswith("done · base rouge-l"), status
        table = screen.query_one("#predict-table", DataTable)
        assert len(table.rows) == 3 and table.border_title == "3 evaluation rows"
        for i in range(3):
            assert table.get_cell(str(i), "label") == screen.rows[i]["label"]
            assert table.get_cell(str(i), "base") == " ".join(screen.answers["base"][i].split())
            assert table.get_cell(str(i), "tuned") != "…"
        metrics = screen.query_one("#predict-metrics", DataTable)
        assert [str(k.value) for k in metrics.rows] == ["base", "tuned"]
        assert set(screen.metrics["tuned"]) == {"bleu-4", "rouge-1", "rouge-2", "rouge-l"}
        detail = str(screen.query_one("#predict-detail", Static).render())
        assert "label" in detail and screen.rows[0]["label"] in detail and "tuned" in detail


async def test_a_folder_that_is_no_run_fails_in_one_line(tmp_path):
    screen = PredictScreen(str(tmp_path))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        status = screen.query_one("#predict-status", Static)
        assert "not a run folder" in str(status.render()) and status.has_class("error")
        assert not screen.query_one("#predict-table", DataTable).rows


async def test_bad_numbers_start_nothing(tmp_path):
    screen = PredictScreen(str(tmp_path))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#predict-rows", Input).value = "0"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.proc is None and "1 or more" in str(screen.query_one("#predict-status", Static).render())


async def test_reached_from_the_runs_screen_and_f10(home: Path):
    run = write_journal(home / "runs" / "20260101-000000-tiny-sft", steps=3)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, PredictScreen)
        await pilot.press("f6")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PredictScreen)
        assert app.screen.query_one("#predict-source", Input).value == str(run.resolve())


def test_nav_bar_lists_predict_where_it_fits():
    from rich.text import Text

    from lmftui.widgets.nav_bar import NavBar

    narrow, wide = NavBar._text("home", 80), NavBar._text("predict", 120)
    assert "Predict" not in narrow and len(Text.from_markup(narrow)) == 80
    assert "[reverse] [b]F10[/b] Predict [/reverse]" in wide and len(Text.from_markup(wide)) <= 120


async def test_a_resize_keeps_the_answers_and_refits_the_columns():
    from tests.tui.test_predict_snapshots import lines

    screen = PredictScreen()
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        for record in lines():
            screen.post_message(PredictScreen.Line(record))
        await pilot.pause()
        table = screen.query_one("#predict-table", DataTable)
        narrow = table.columns["tuned"].width
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        assert table.columns["tuned"].width > narrow
        assert table.get_cell("1", "tuned") == "The lmf-tui team made me." and len(table.rows) == 4


async def test_an_engine_that_cannot_start_is_a_status_line(tmp_path, monkeypatch):
    import engine.process

    monkeypatch.setattr(engine.process.sys, "executable", str(tmp_path / "no-python"))
    screen = PredictScreen(str(tmp_path))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        status = screen.query_one("#predict-status", Static)
        assert str(status.render()).startswith("cannot start the engine:") and status.has_class("error")
        assert screen.proc is None

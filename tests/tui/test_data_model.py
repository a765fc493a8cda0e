"""Data and Model screens: data sets filtered by stage, errors on screen, samples; model size and sizing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmftui.screens.data import DataScreen
from lmftui.widgets.sample_view import render_samples, render_stats

from .conftest import make_app, open_model_screen, tiny_dataset_dir

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

TINY_LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
              "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 256, "max_position_embeddings": 128, "tie_word_embeddings": False}


async def open_data(app, pilot, **draft) -> DataScreen:
    app.set_draft(draft, source="custom")
    await pilot.press("f4")
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


async def test_data_sets_filtered_by_stage_and_chosen(home: Path) -> None:
    data = tiny_dataset_dir(home)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_data(app, pilot, dataset_dir=str(data), stage="sft")
        table = screen.query_one("#datasets")
        assert table.row_count == 1 and table.get_row_at(0)[1] == "tiny_alpaca"
        assert "1 hidden: not for stage sft" in str(screen.query_one("#data-error").render())
        table.focus()
        await pilot.press("space")
        assert app.draft["dataset"] == "tiny_alpaca"
        assert table.get_row_at(0)[0] == "✓"
        await pilot.press("space")
        assert app.draft["dataset"] is None

        app.update_draft(stage="dpo")
        await pilot.press("f1", "f4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [table.get_row_at(i)[1] for i in range(table.row_count)] == ["tiny_pairs"]


async def test_llamafactory_shaped_folder_is_listed_with_marks(home: Path) -> None:
    from tests.tiny import write_llamafactory_like_dir

    data = write_llamafactory_like_dir(home / "lf-data")
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_data(app, pilot, dataset_dir=str(data), stage="sft")
        table = screen.query_one("#datasets")
        rows = {table.get_row_at(i)[1]: table.get_row_at(i) for i in range(table.row_count)}
        assert {"tiny_identity", "tiny_chat", "hub_only", "gone", "ms_only", "script_set"} <= set(rows)
        assert rows["hub_only"][4] == "hub: someone/hub-only" and rows["gone"][4] == "✗ missing: gone.json"
        assert rows["ms_only"][4].startswith("✗ ModelScope") and rows["tiny_chat"][4] == "tiny_chat.json"
        note = str(screen.query_one("#data-error").render())
        assert "3 unusable" in note and not screen.query_one("#data-error").has_class("-invalid")
        table.focus()
        table.move_cursor(row=list(rows).index("ms_only"))
        await pilot.press("space")
        await pilot.pause()
        assert app.draft.get("dataset") is None
        assert "ModelScope" in str(app.screen.query_one("#error-message").render())


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    ("{not json", "not valid JSON"),
])
async def test_broken_dataset_info_is_an_error_on_screen(home: Path, content, expected) -> None:
    data = home / "data"
    data.mkdir()
    if content is not None:
        (data / "dataset_info.json").write_text(content)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_data(app, pilot, dataset_dir=str(data))
        error = screen.query_one("#data-error")
        assert expected in str(error.render()) and error.has_class("-invalid")
        assert screen.query_one("#datasets").row_count == 0


def test_sample_rendering_highlights_trained_tokens() -> None:
    data = {"samples": [{"length": 12, "segments": [{"text": "Q: hi [x]", "trained": False},
                                                    {"text": "A: hello", "trained": True}]}],
            "report": {"rows_read": 10, "rows_kept": 9, "truncated": 2, "cutoff_len": 64,
                       "length_stats": {"min": 3, "max": 90}}}
    text = render_samples(data)
    assert "$success-muted]A: hello[/]" in text and "[dim]Q: hi \\[x][/]" in text
    stats = render_stats(data)
    assert "2 of 9 rows longer than cutoff_len 64 are truncated" in stats and "max 90" in stats


@pytest.mark.slow
async def test_sample_preview_runs_the_data_command(home: Path, tiny_model_dir: Path, tiny_data_dir: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_data(app, pilot, dataset_dir=str(tiny_data_dir), model_name_or_path=str(tiny_model_dir),
                                 dataset="tiny_identity", cutoff_len=16, template="chatml")
        screen.query_one("#datasets").focus()
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(screen.query_one("#samples").render())
        assert "#1" in text and "tokens per row" in text and "longer than cutoff_len 16" in text, text


async def test_model_screen_reads_config_json_and_applies(home: Path) -> None:
    model = home / "tiny-llama"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TINY_LLAMA))
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_model_screen(app, pilot, model)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        info = str(screen.query_one("#model-info").render())
        assert "2 layers" in info and "hidden 64" in info and "vocab 256" in info
        screen.query_one("#method").value = "freeze"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfigEditorScreen"
        assert app.draft["model_name_or_path"] == str(model) and app.draft["finetuning_type"] == "freeze"
        assert app.draft_source == "tiny-llama"


async def test_model_screen_bad_path_is_one_line(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        app.screen.query_one("#model-path").value = str(home / "nope.gguf")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "does not exist" in str(app.screen.query_one("#model-info").render())

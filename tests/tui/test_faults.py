"""The app meets the faults the command line meets: the same one line in a modal, and it stays usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmftui.screens.config_editor import ConfigEditorScreen
from lmftui.screens.modals import ErrorModal
from lmftui.widgets.config_form import ConfigForm

from .conftest import make_app, wait_for
from .test_editor_files import answer_prompt

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

FAULTS = {
    "dup.yaml": (b"stage: sft\nstage: dpo\n", "'stage' is given twice"),
    "latin1.yaml": (b"stage: sft\ntemplate: caf\xe9\n", "not UTF-8"),
    "tabs.yaml": (b"stage: sft\n\tcutoff_len: 64\n", "not valid YAML"),
    "missing.yaml": (None, "no such file"),
    "a_file/inside.yaml": (None, "not a folder"),
}


async def error_text(app, pilot) -> str:
    """The message of the error modal, once it is shown."""
    await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal) and app.screen.query("#error-message"))
    return str(app.screen.query_one("#error-message").render())


@pytest.mark.parametrize("name", list(FAULTS))
async def test_opening_a_bad_config_shows_one_line_and_the_app_goes_on(home: Path, name: str) -> None:
    content, words = FAULTS[name]
    (home / "a_file").write_text("x")
    if content is not None:
        (home / name).write_bytes(content)
    app = make_app(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
        await pilot.press("ctrl+o")
        await answer_prompt(app, pilot, str(home / name))
        message = await error_text(app, pilot)
        assert words in message and "\n" not in message.strip() and "Traceback" not in message
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
        form = app.screen.query_one(ConfigForm)  # still editable
        form.focus_field("learning_rate")
        await pilot.pause()
        form.rows()["learning_rate"].editor.value = "3e-4"
        await pilot.pause()
        assert form.values["learning_rate"] == 3e-4


async def test_a_failing_worker_reaches_one_modal_and_a_bug_is_saved(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(100, 30)) as pilot:
        def full_disk() -> None:
            raise OSError(28, "No space left on device", "/runs/x/checkpoint-8/optimizer.pt")

        app.run_worker(full_disk, name="save", thread=True, exit_on_error=False)
        assert "no space left on the disk" in await error_text(app, pilot)
        await pilot.press("escape")

        def bug() -> None:
            raise KeyError("a bug")

        app.run_worker(bug, name="task", thread=True, exit_on_error=False)
        message = await error_text(app, pilot)
        crash = Path(message.split("traceback saved to ")[1].split(";")[0])
        assert "KeyError" in crash.read_text()
        await pilot.press("escape")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))

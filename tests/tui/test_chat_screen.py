"""ChatScreen with a real tiny model behind `lmf-tui chat --jsonl`: type, stream, regenerate, side by side."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input

from lmftui.screens.chat import ChatPane, ChatScreen, base_model_args
from tests.tiny import build_adapter, build_stopping_model
from tests.tui.pilot_helpers import Host, until

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(600)]
PROMPT = "Hello there!"


@pytest.fixture(scope="module")
def stopper(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat-screen")
    model, answer = build_stopping_model(root / "model", PROMPT)
    return model, answer, build_adapter(model, root / "lora")




def test_every_binding_has_an_id_and_tooltip():
    assert all(b.id and b.id.startswith("chat.") and b.tooltip for b in ChatScreen.BINDINGS)
    assert base_model_args(["cfg.yaml", "template=chatml"])[-1] == "adapter_name_or_path=null"


async def test_type_a_prompt_and_see_the_streamed_answer(stopper):
    model, answer, _ = stopper
    screen = ChatScreen([str(model), "template=chatml"], temperature=0, max_new_tokens=40)
    app = Host(screen)
    async with app.run_test(size=(120, 36)) as pilot:
        prompt = screen.query_one("#chat-prompt", Input)
        await until(pilot, lambda: not prompt.disabled)
        main = screen.query_one("#pane-main", ChatPane)
        assert "transformers" in str(main.query_one("Label").render())
        prompt.focus()
        await pilot.press(*PROMPT, "enter")
        await until(pilot, lambda: not prompt.disabled)
        assert main.history == [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": answer}]
        shown = [str(w.render()) for w in main.query(".msg-assistant")]
        assert shown == [answer]
        status = str(screen.query_one("#chat-status").render())
        assert "last answer" in status and "tokens/s" in status and "cpu float32" in str(main.query_one("Label").render())
        await pilot.press("ctrl+r")
        await until(pilot, lambda: not prompt.disabled and not main.busy)
        assert [m["role"] for m in main.history] == ["user", "assistant"] and len(main.query(".msg-assistant")) == 1
        await pilot.press("ctrl+l")
        assert main.history == [] and not main.query(".msg")
        screen.query_one("#chat-temperature", Input).value = "1.0"
        screen.query_one("#chat-max", Input).value = "100000"
        prompt.focus()
        seen: list[tuple[bool, bool]] = []  # (prompt disabled, pane busy) at every change of the lock
        screen.watch(prompt, "disabled", lambda value: seen.append((value, main.busy)), init=False)
        await pilot.press(*"Tell me a long story", "enter")
        await until(pilot, lambda: main.busy or len(main.history) == 2)
        assert seen and seen[0] == (True, True), "the prompt is locked while answering"
        if main.busy:  # a tiny model may finish before the key arrives; stopping is also tested headless
            await pilot.press("escape")
            await until(pilot, lambda: not prompt.disabled)
            assert str(main.query(".msg-assistant").last().render()).endswith("[stopped]")
        await until(pilot, lambda: not prompt.disabled)
        process = main.process
    await asyncio.sleep(0.5)
    assert process is not None and not process.alive, "leaving the app ends the chat process"


async def test_side_by_side_sends_the_prompt_to_both_models(stopper):
    model, answer, lora = stopper
    screen = ChatScreen([str(lora), "template=chatml"], temperature=0, max_new_tokens=12)
    app = Host(screen)
    async with app.run_test(size=(140, 36)) as pilot:
        prompt = screen.query_one("#chat-prompt", Input)
        await until(pilot, lambda: not prompt.disabled)
        await pilot.press("ctrl+b")
        base = screen.query_one("#pane-base", ChatPane)
        assert base.display and prompt.disabled
        await until(pilot, lambda: not prompt.disabled)
        prompt.focus()
        await pilot.press(*PROMPT, "enter")
        await until(pilot, lambda: not prompt.disabled)
        main = screen.query_one("#pane-main", ChatPane)
        assert base.history[-1] == {"role": "assistant", "content": answer}, "the base model answers as before"
        assert main.history[-1]["role"] == "assistant" and main.history[0] == base.history[0]

"""Snapshots of the Predict view at 80x24 and 120x40, filled by fixed lines of `python -m engine predict --jsonl`.

Update after a deliberate change of the look: `pytest tests/tui/test_predict_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from lmftui.screens.predict import PredictScreen

from .conftest import make_app

pytestmark = pytest.mark.timeout(120)
ROWS = [("What is your name?", "My name is Lumen."), ("Who made you?", "The lmf-tui team made me."),
        ("What is the capital of France?", "Paris."), ("你叫什么名字？", "我叫 Lumen。")]
BASE = ["I am a language model.", "Nobody.", "Paris is the capital of France.", "我是一个模型。"]
TUNED = ["My name is Lumen.", "The lmf-tui team made me.", "Paris.", "我叫 Lumen。"]


def lines() -> list[dict]:
    out: list[dict] = [{"type": "rows", "kind": "evaluation rows", "base": "tiny-model", "tuned": "saves/tiny-sft",
                        "rows": [{"prompt": p, "label": label} for p, label in ROWS]}]
    for model, answers, scores in (("base", BASE, (12.5, 20.0, 5.0, 18.25)), ("tuned", TUNED, (91.0, 95.5, 90.0, 95.5))):
        for i, text in enumerate(answers):
            out.append({"type": "answer", "model": model, "index": i, "text": text,
                        "scores": dict(zip(("bleu-4", "rouge-1", "rouge-2", "rouge-l"), scores))})
        out.append({"type": "metrics", "model": model,
                    "scores": dict(zip(("bleu-4", "rouge-1", "rouge-2", "rouge-l"), scores))})
    return out + [{"type": "done"}]


async def fill(pilot) -> None:
    app = pilot.app
    app.switch_mode("predict")
    await pilot.pause()
    screen = app.screen
    for record in lines():
        screen.post_message(PredictScreen.Line(record))
    await pilot.pause()
    for box in screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_predict_side_by_side(snap_compare, home: Path, size) -> None:
    assert snap_compare(make_app(home), terminal_size=size, run_before=fill)

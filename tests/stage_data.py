"""Tiny preference, KTO and prompt data sets for the alignment-stage tests (separable on purpose)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tiny import IDENTITY

BAD = "I do not know, sorry."
COMMON = dict(do_train=True, finetuning_type="lora", lora_rank=8, lora_target="all", cutoff_len=64, logging_steps=1,
              save_steps=1000, report_to="none", seed=1)


def stage_config(model_dir: Path, data_dir: Path, out: Path, **over):
    """A training config of the alignment-stage tests: a LoRA r8 on the tiny model, logging every step."""
    from engine.config import parse_config

    return parse_config({**COMMON, "model_name_or_path": str(model_dir), "dataset_dir": str(data_dir),
                         "output_dir": str(out), **over}, "train")


def write_stage_data(path: Path) -> Path:
    """tiny_pairs (alpaca ranking; tiny_pairs_dirty with two unusable rows), tiny_pairs_chat (sharegpt ranking),
    tiny_kto (tagged), tiny_prompts (sft)."""
    path.mkdir(parents=True, exist_ok=True)
    pairs = [{"instruction": q, "input": "", "chosen": a, "rejected": BAD} for q, a in IDENTITY]
    (path / "pairs.json").write_text(json.dumps(pairs))
    chat = [{"conversations": [{"from": "human", "value": q}], "chosen": {"from": "gpt", "value": a},
             "rejected": {"from": "gpt", "value": BAD}} for q, a in IDENTITY]
    (path / "pairs_chat.json").write_text(json.dumps(chat))
    kto = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": answer}], "label": good}
           for q, a in IDENTITY for answer, good in ((a, True), (BAD, False))]
    (path / "kto.json").write_text(json.dumps(kto))
    dirty = pairs[:4] + [{"instruction": "Same?", "input": "", "chosen": "Yes.", "rejected": "Yes."},
                         {"instruction": "Missing?", "input": "", "chosen": "Here."}]
    (path / "pairs_dirty.json").write_text(json.dumps(dirty))
    prompts = [{"instruction": q, "input": "", "output": a} for q, a in IDENTITY]
    (path / "prompts.json").write_text(json.dumps(prompts))
    info = {
        "tiny_pairs": {"file_name": "pairs.json", "ranking": True,
                       "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen",
                                   "rejected": "rejected"}},
        "tiny_pairs_dirty": {"file_name": "pairs_dirty.json", "ranking": True,
                             "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen",
                                         "rejected": "rejected"}},
        "tiny_pairs_chat": {"file_name": "pairs_chat.json", "formatting": "sharegpt", "ranking": True,
                            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}},
        "tiny_kto": {"file_name": "kto.json", "formatting": "sharegpt",
                     "columns": {"messages": "messages", "kto_tag": "label"},
                     "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                              "assistant_tag": "assistant"}},
        "tiny_prompts": {"file_name": "prompts.json"},
    }
    (path / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return path


def stop_then_resume(config, at_step: int) -> tuple[dict, dict]:
    """Run, send ourselves SIGTERM once step `at_step` is journaled (a graceful stop), then run again."""
    import os
    import signal
    import threading
    import time

    from engine.events import read_events
    from engine.train import run_training

    out = Path(config.output_dir)

    def stop_when_there() -> None:
        while not any(e["type"] == "step" and e["step"] >= at_step for e in _events(out, read_events)):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_there, daemon=True).start()
    first = run_training(config)
    return first, run_training(config)


def _events(out: Path, read_events) -> list[dict]:
    return read_events(out) if (out / "events.jsonl").exists() else []


def assert_resumed(out: Path, first: dict, second: dict) -> None:
    """The first run stopped at a checkpoint; the second started from it and finished."""
    from engine.events import read_events

    assert first["status"] == "stopped" and (out / f"checkpoint-{first['step']}").is_dir()
    starts = [e for e in read_events(out) if e["type"] == "start"]
    assert len(starts) == 2 and starts[1]["plan"]["resume_from"].endswith(f"checkpoint-{first['step']}")
    later = [e for e in read_events(out)[read_events(out).index(starts[1]):] if e["type"] == "step"]
    assert later[0]["step"] == first["step"] + 1
    assert second["status"] == "done" and second["step"] == second["max_steps"]

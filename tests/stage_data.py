"""Tiny preference, KTO and prompt data sets for the alignment-stage tests (separable on purpose)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tiny import IDENTITY

BAD = "I do not know, sorry."


def write_stage_data(path: Path) -> Path:
    """tiny_pairs (alpaca ranking), tiny_pairs_chat (sharegpt ranking), tiny_kto (tagged), tiny_prompts (sft)."""
    path.mkdir(parents=True, exist_ok=True)
    pairs = [{"instruction": q, "input": "", "chosen": a, "rejected": BAD} for q, a in IDENTITY]
    (path / "pairs.json").write_text(json.dumps(pairs))
    chat = [{"conversations": [{"from": "human", "value": q}], "chosen": {"from": "gpt", "value": a},
             "rejected": {"from": "gpt", "value": BAD}} for q, a in IDENTITY]
    (path / "pairs_chat.json").write_text(json.dumps(chat))
    kto = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": answer}], "label": good}
           for q, a in IDENTITY for answer, good in ((a, True), (BAD, False))]
    (path / "kto.json").write_text(json.dumps(kto))
    prompts = [{"instruction": q, "input": "", "output": a} for q, a in IDENTITY]
    (path / "prompts.json").write_text(json.dumps(prompts))
    info = {
        "tiny_pairs": {"file_name": "pairs.json", "ranking": True,
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

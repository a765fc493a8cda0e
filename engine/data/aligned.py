"""Normalise alpaca, sharegpt and openai rows to the one aligned form every stage uses.

Aligned row: {"prompt": [{"role", "content"}...], "response": [...], "system": str, "tools": str,
"kto_tag": bool | None, "dataset": name}. For pt the row is {"text": str, "dataset": name}.
A row that does not fit gives the reason (naming the column) instead.
"""

from __future__ import annotations

import json
from typing import Any

from .dataset_info import DatasetAttr
from .loading import BrokenRow

Row = dict[str, Any]
USER, ASSISTANT, OBSERVATION, FUNCTION = "user", "assistant", "observation", "function"
PROMPT_ROLES = (USER, OBSERVATION)  # roles at even positions of a conversation
ANSWER_ROLES = (ASSISTANT, FUNCTION)  # roles at odd positions


class Unfit(Exception):
    """A row that cannot be used; the message is the reason counted in the report."""


def align_row(row: Any, attr: DatasetAttr, stage: str) -> Row:
    """The aligned form of one raw row; raises Unfit with the reason."""
    if isinstance(row, BrokenRow):
        raise Unfit(row.reason)
    if not isinstance(row, dict):
        raise Unfit("row is not an object")
    if stage == "pt":
        return {"text": _pt_text(row, attr), "dataset": attr.name}
    if attr.formatting == "alpaca":
        out = _align_alpaca(row, attr)
    else:
        out = _align_chat(row, attr)
    out["tools"] = _tools(row, attr)
    out["dataset"] = attr.name
    if attr.is_ranking:
        chosen, rejected = out["response"]
        if chosen["content"] == rejected["content"]:
            raise Unfit(f"chosen == rejected (columns '{attr.column('chosen')}', '{attr.column('rejected')}')")
    return out


def _pt_text(row: Row, attr: DatasetAttr) -> str:
    if "prompt" in attr.explicit_columns or "text" not in row:
        text = _text(row, attr.column("prompt") or "text")
        query = attr.column("query")
        if query and "prompt" not in attr.explicit_columns and row.get(query):
            text = f"{text}\n{row[query]}"
    else:
        text = _text(row, "text")
    if not text.strip():
        raise Unfit(f"empty text in column '{attr.column('prompt') or 'text'}'")
    return text


def _align_alpaca(row: Row, attr: DatasetAttr) -> Row:
    prompt: list[Row] = []
    history_col = attr.column("history")
    if history_col and row.get(history_col):
        turns = row[history_col]
        if not isinstance(turns, list) or not all(isinstance(t, (list, tuple)) and len(t) == 2 for t in turns):
            raise Unfit(f"column '{history_col}' is not a list of [question, answer] pairs")
        for question, answer in turns:
            prompt += [{"role": USER, "content": str(question)}, {"role": ASSISTANT, "content": str(answer)}]
    query = _text(row, attr.column("prompt"))
    extra = attr.column("query")
    if extra and row.get(extra):
        query = f"{query}\n{row[extra]}" if query else str(row[extra])
    if not query.strip():
        raise Unfit(f"empty prompt in column '{attr.column('prompt')}'")
    prompt.append({"role": USER, "content": query})
    kto_tag = _kto_tag(row, attr)
    if attr.is_ranking:
        response = [{"role": ASSISTANT, "content": _answer(row, attr.column("chosen"), "chosen")},
                    {"role": ASSISTANT, "content": _answer(row, attr.column("rejected"), "rejected")}]
    else:
        response = [{"role": ASSISTANT, "content": _answer(row, attr.column("response"), "response")}]
    return {"prompt": prompt, "response": response, "system": _system(row, attr), "kto_tag": kto_tag}


def _align_chat(row: Row, attr: DatasetAttr) -> Row:
    col = attr.column("messages")
    if not col or col not in row:
        raise Unfit(f"missing column '{col}'")
    messages = row[col]
    if not isinstance(messages, list):
        raise Unfit(f"column '{col}' is not a list of messages")
    tags = attr.tags
    system = _system(row, attr)
    if messages and isinstance(messages[0], dict) and tags.get("system_tag") \
            and messages[0].get(tags["role_tag"]) == tags["system_tag"]:
        system = _content(messages[0], attr)
        messages = messages[1:]
    turns = [_message(m, attr) for m in messages]
    for i, turn in enumerate(turns):
        expected = PROMPT_ROLES if i % 2 == 0 else ANSWER_ROLES
        if turn["role"] not in expected:
            raise Unfit(f"bad role order in column '{col}'")
    kto_tag = _kto_tag(row, attr)
    if attr.is_ranking:
        if len(turns) % 2 == 0:
            raise Unfit(f"bad role order in column '{col}' (ranking prompts end with a user turn)")
        pair = []
        for key in ("chosen", "rejected"):
            name = attr.column(key)
            if not name or name not in row:
                raise Unfit(f"missing column '{name or key}'")
            answer = _message(row[name], attr) if isinstance(row[name], dict) else \
                {"role": ASSISTANT, "content": _plain(row[name], name)}
            if answer["role"] not in ANSWER_ROLES:
                raise Unfit(f"bad role in column '{name}'")
            if not answer["content"].strip():
                raise Unfit(f"empty answer in column '{name}'")
            pair.append(answer)
        return {"prompt": turns, "response": pair, "system": system, "kto_tag": None}
    if len(turns) < 2 or len(turns) % 2:
        raise Unfit(f"bad role order in column '{col}' (needs user/assistant pairs ending with an answer)")
    if not turns[-1]["content"].strip():
        raise Unfit(f"empty answer in column '{col}'")
    return {"prompt": turns[:-1], "response": turns[-1:], "system": system, "kto_tag": kto_tag}


def _message(message: Any, attr: DatasetAttr) -> Row:
    tags = attr.tags
    if not isinstance(message, dict):
        raise Unfit(f"a message in column '{attr.column('messages')}' is not an object")
    tag = message.get(tags["role_tag"])
    roles = {tags.get("user_tag"): USER, tags.get("assistant_tag"): ASSISTANT,
             tags.get("observation_tag"): OBSERVATION, tags.get("function_tag"): FUNCTION}
    roles.pop(None, None)
    if attr.formatting == "openai" and tag == tags["assistant_tag"] and message.get("tool_calls"):
        calls = [c.get("function", c) if isinstance(c, dict) else c for c in message["tool_calls"]]
        return {"role": FUNCTION, "content": json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)}
    if tag not in roles:
        raise Unfit(f"unknown role '{tag}' in column '{attr.column('messages')}' (set tags in dataset_info.json)")
    return {"role": roles[tag], "content": _content(message, attr)}


def _content(message: Row, attr: DatasetAttr) -> str:
    key = attr.tags["content_tag"]
    if key not in message:
        raise Unfit(f"a message lacks its '{key}' field")
    value = message[key]
    if isinstance(value, list):  # openai content parts
        return "".join(p.get("text", "") for p in value if isinstance(p, dict))
    return "" if value is None else _plain(value, key)


def _text(row: Row, col: str | None) -> str:
    if not col or col not in row:
        raise Unfit(f"missing column '{col}'")
    return _plain(row[col], col)


def _plain(value: Any, col: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    raise Unfit(f"column '{col}' is not text")


def _answer(row: Row, col: str | None, key: str) -> str:
    if not col:
        raise Unfit(f"no {key} column set in dataset_info.json")
    text = _text(row, col)
    if not text.strip():
        raise Unfit(f"empty answer in column '{col}'")
    return text


def _system(row: Row, attr: DatasetAttr) -> str:
    col = attr.column("system")
    return _plain(row.get(col), col) if col else ""


def _tools(row: Row, attr: DatasetAttr) -> str:
    col = attr.column("tools")
    value = row.get(col) if col else None
    if value in (None, ""):
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _kto_tag(row: Row, attr: DatasetAttr) -> bool | None:
    col = attr.column("kto_tag")
    if not col:
        return None
    value = row.get(col)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise Unfit(f"column '{col}' is not true/false")

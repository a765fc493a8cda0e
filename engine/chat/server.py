"""`chat --jsonl`: JSON requests on stdin; on stdout `engine.wire` records for the app: `ready`, then per answer
`token` records (`text`) and one `done` (`reason` end/stopped/error, `text`), and `error` for a bad request."""

from __future__ import annotations

import json
import threading
from typing import Any, TextIO

from ..wire import write

from .backend import ChatBackend, GenParams
from .session import Answer


def serve_jsonl(backend: ChatBackend, params: GenParams, stdin: TextIO, stdout: TextIO) -> int:
    """Answer `{"messages": [...], ...}` requests one at a time; `{"cmd": "stop"}` ends the current answer,
    `{"cmd": "exit"}` ends the server; at the end of input the last answer is finished first."""
    lock = threading.Lock()

    def send(type: str, **fields: Any) -> None:
        with lock:
            write(stdout, type, **fields)

    send("ready", backend=backend.name, model=backend.model, system=backend.default_system,
         note=getattr(backend, "note", ""), device=getattr(backend, "device", ""))
    answer: Answer | None = None
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as exc:
            send("error", message=f"bad request: {exc}")
            continue
        if request.get("cmd") == "stop":
            if answer is not None:
                answer.stop()
            continue
        if request.get("cmd") == "exit":
            if answer is not None:
                answer.stop()
            break
        if answer is not None and answer.running:
            send("error", message="busy: an answer is running — send {\"cmd\": \"stop\"} first")
            continue
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            send("error", message="bad request: 'messages' must be a non-empty list of {role, content}")
            continue
        try:
            request_params = params.update(request)
        except (TypeError, ValueError) as exc:
            send("error", message=f"bad request: {exc}")
            continue
        answer = Answer(backend, messages, request_params, lambda piece: send("token", text=piece),
                        lambda summary: send("done", **summary)).start()
    if answer is not None:
        answer.thread.join()
    return 0

"""One answer at a time: run a backend's stream in a thread, forward pieces, report how it ended (no torch)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from .backend import ChatBackend, GenParams


class Answer:
    """A running answer: `on_piece` gets each text piece, `on_done` the summary; `stop()` cuts it short."""

    def __init__(self, backend: ChatBackend, messages: list[dict], params: GenParams,
                 on_piece: Callable[[str], None], on_done: Callable[[dict], None]):
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self._args = (backend, messages, params, on_piece, on_done)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Answer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def running(self) -> bool:
        """True until the answer's stream has ended (set just before `on_done` is called)."""
        return self.thread.is_alive() and not self.finished.is_set()

    def _run(self) -> None:
        backend, messages, params, on_piece, on_done = self._args
        started = time.monotonic()
        pieces: list[str] = []
        try:
            for piece in backend.stream(messages, params, self.stop_event):
                pieces.append(piece)
                on_piece(piece)
        except Exception as exc:  # reported to the caller as one line, the process keeps serving
            self.finished.set()
            on_done({"reason": "error", "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                     "text": "".join(pieces), "pieces": len(pieces)})
            return
        reason = "stopped" if self.stop_event.is_set() else "end"
        seconds = time.monotonic() - started
        text = "".join(pieces)
        tokens = backend.count_tokens(text) if hasattr(backend, "count_tokens") else len(pieces)
        self.finished.set()
        on_done({"reason": reason, "text": text, "pieces": len(pieces), "seconds": round(seconds, 2),
                 "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else 0.0})

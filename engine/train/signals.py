"""Graceful stop: the first SIGTERM/SIGINT asks the trainer to save and stop; a second SIGINT aborts."""

from __future__ import annotations

import signal
import threading


class GracefulStop:
    """Installs handlers while a run trains; `requested` turns true on the first signal."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            return  # a dropped SSH link must not stop the run
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name

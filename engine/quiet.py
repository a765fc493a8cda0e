"""A quiet console: library warnings, logging and progress bars go to a log file, not the user's terminal.

The user sees lmf-tui's own lines (stdout, and its one-line errors); everything libraries write to
stderr while a command runs (Python warnings, `logging` records, tqdm bars) is appended, one tagged
line each, to a log file — a run's `console.log` — unless `--verbose` (or LMF_TUI_VERBOSE=1) asks
for it on the terminal. Heavy optional libraries a command does not use are kept from being imported.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LIBRARY_TAG = "[lib] "  # marks library lines in console.log; the app's log pane leaves them out
VERBOSE_ENV = "LMF_TUI_VERBOSE"


_terminals: list[Any] = []  # the real stderr while quiet_libraries has replaced it


def say(line: str) -> None:
    """One of lmf-tui's own lines (progress of a fetch, a note) on the user's stderr, even while quiet."""
    print(line, file=_terminals[-1] if _terminals else sys.stderr, flush=True)


def verbose_requested() -> bool:
    """--verbose was given here or to the process that started this one."""
    return os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")


def is_library_line(line: str) -> bool:
    """A console.log line written by a library rather than by lmf-tui."""
    return line.startswith(LIBRARY_TAG)


class LibraryLog(io.TextIOBase):
    """A text stream appending whole, tagged lines to a file; a progress bar's redraws leave its last state."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8", errors="replace")
        self._pending = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._file.fileno()

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        line = line.rstrip("\r").rsplit("\r", 1)[-1].rstrip()
        if line:
            self._file.write(LIBRARY_TAG + line + "\n")
            self._file.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._emit(self._pending)
            self._pending = ""
            self._file.close()
        super().close()


@contextlib.contextmanager
def quiet_libraries(log_path: str | os.PathLike | None, verbose: bool = False) -> Iterator[None]:
    """While inside, stderr writes (warnings, logging, progress bars) go to `log_path`, tagged."""
    if verbose or verbose_requested() or log_path is None:
        yield
        return
    terminal = sys.stderr
    stream = LibraryLog(log_path)
    moved = _move_stream_handlers(terminal, stream)
    sys.stderr = stream
    _terminals.append(terminal)
    try:
        yield
    finally:
        _terminals.pop()
        sys.stderr = terminal
        for handler in moved:
            handler.setStream(terminal)
        stream.close()


def _move_stream_handlers(old: Any, new: Any) -> list[logging.StreamHandler]:
    """Point logging handlers made before the switch (transformers' own) at the new stream."""
    moved = []
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler and handler.stream is old:
                handler.setStream(new)
                moved.append(handler)
    return moved


def needs_bitsandbytes(quantization_bit: int | None = None, optim: str = "") -> bool:
    """Quantized loading, or one of bitsandbytes' optimizers (8-bit, paged, bnb_*)."""
    return bool(quantization_bit) or any(word in optim.lower() for word in ("8bit", "4bit", "bnb", "paged"))


def skip_unused_libraries(quantization_bit: int | None = None, optim: str = "") -> None:
    """Keep bitsandbytes out of a process that does not need it: peft and transformers import it eagerly
    when installed, and on some CPUs it prints kernel warnings at import."""
    if not needs_bitsandbytes(quantization_bit, optim) and "bitsandbytes" not in sys.modules:
        sys.modules["bitsandbytes"] = None  # type: ignore[assignment]  # import fails, find_spec says absent

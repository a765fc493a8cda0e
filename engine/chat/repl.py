"""The plain chat REPL of `lmf-tui chat`: streamed answers and slash commands (/system, /temp, /regen…)."""

from __future__ import annotations

import threading
from typing import Callable, TextIO

from .backend import ChatBackend, GenParams

HELP = ("commands: /system TEXT, /temp X, /top_p X, /max N, /regen, /clear, /exit "
        "(Ctrl-C stops an answer, Ctrl-D exits)")


class Repl:
    """A conversation with one backend: history, system prompt and sampling settings."""

    def __init__(self, backend: ChatBackend, params: GenParams, out: TextIO):
        self.backend = backend
        self.params = params
        self.out = out
        self.system = backend.default_system or ""
        self.history: list[dict] = []

    def messages(self) -> list[dict]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + self.history

    def answer(self) -> str:
        """Stream the model's answer to the history and append it."""
        stop = threading.Event()
        pieces: list[str] = []
        try:
            for piece in self.backend.stream(self.messages(), self.params, stop):
                pieces.append(piece)
                self.out.write(piece)
                self.out.flush()
        except KeyboardInterrupt:
            stop.set()
            self.out.write(" [stopped]")
        self.out.write("\n")
        text = "".join(pieces)
        self.history.append({"role": "assistant", "content": text})
        return text

    def command(self, line: str) -> bool:
        """Run a slash command; False means exit."""
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        try:
            if name in ("exit", "quit"):
                return False
            if name == "system":
                self.system = arg
                self._say(f"system prompt {'set' if arg else 'cleared'}")
            elif name in ("temp", "top_p", "max"):
                key = {"temp": "temperature", "top_p": "top_p", "max": "max_new_tokens"}[name]
                self.params = self.params.update({key: arg})
                self._say(f"{key} = {getattr(self.params, key)}")
            elif name == "clear":
                self.history.clear()
                self._say("history cleared")
            elif name == "regen":
                if self.history and self.history[-1]["role"] == "assistant":
                    self.history.pop()
                    self.answer()
                else:
                    self._say("nothing to regenerate")
            else:
                self._say(HELP)
        except ValueError as exc:
            self._say(f"error: {exc}")
        return True

    def run(self, read: Callable[[str], str] = input) -> int:
        """Read lines until /exit or end of input."""
        self._say(f"{self.backend.name}: {self.backend.model} — {HELP}")
        if note := getattr(self.backend, "note", ""):
            self._say(f"note: {note}")
        while True:
            try:
                line = read("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                self.out.write("\n")
                return 0
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return 0
                continue
            self.history.append({"role": "user", "content": line})
            self.out.write("bot> ")
            self.answer()

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

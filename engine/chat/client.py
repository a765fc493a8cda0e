"""The app's side of `python -m engine chat SOURCE --jsonl`: a subprocess that holds the model (no torch here)."""

from __future__ import annotations

import json
import subprocess
import tempfile

from ..process import child_env, engine_command


class ChatProcess:
    """Starts the chat server, sends it requests and reads its JSON lines (`ready`, `token`, `done`, `error`)."""

    def __init__(self, args: list[str]):
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")

    def start(self) -> "ChatProcess":
        env = child_env({"TOKENIZERS_PARALLELISM": "false"})
        self.proc = subprocess.Popen(
            engine_command("chat", *self.args, "--jsonl"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, encoding="utf-8", bufsize=1, env=env)
        return self

    def read(self) -> dict | None:
        """The next JSON line from the server (blocking); None once it has exited."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                return record
        return None

    def ask(self, messages: list[dict], temperature: float, top_p: float, max_new_tokens: int) -> None:
        """Request an answer to the conversation; its pieces arrive through `read`."""
        self._send({"messages": messages, "temperature": temperature, "top_p": top_p,
                    "max_new_tokens": max_new_tokens})

    def stop_answer(self) -> None:
        self._send({"cmd": "stop"})

    def error_text(self) -> str:
        """The last line the server wrote on stderr (why it could not start)."""
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        return (errors or lines or ["the chat process exited"])[-1]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self, timeout: float = 5.0) -> None:
        """Ask the server to exit; terminate it if it does not."""
        if self.proc is None:
            return
        if self.alive:
            self._send({"cmd": "exit"})
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                self.proc.wait(timeout)
        self._stderr.close()

    def _send(self, record: dict) -> None:
        if not self.alive:
            return
        try:
            self.proc.stdin.write(json.dumps(record) + "\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass

"""The app's side of `python -m engine chat SOURCE --jsonl`: a subprocess that holds the model (no torch here)."""

from __future__ import annotations

from ..process import ChildProcess


class ChatProcess(ChildProcess):
    """The chat server: sends it requests; its records (`ready`, `token`, `done`, `error`) come from `read`."""

    def __init__(self, args: list[str]):
        super().__init__("chat", *args, "--jsonl", stdin=True, env={"TOKENIZERS_PARALLELISM": "false"})
        self.args = list(args)

    def ask(self, messages: list[dict], temperature: float, top_p: float, max_new_tokens: int) -> None:
        """Request an answer to the conversation; its pieces arrive through `read`."""
        self.send({"messages": messages, "temperature": temperature, "top_p": top_p,
                   "max_new_tokens": max_new_tokens})

    def stop_answer(self) -> None:
        self.send({"cmd": "stop"})

    def error_text(self, default: str = "the chat process exited") -> str:
        return super().error_text(default)

    def close(self, timeout: float = 5.0) -> None:
        """Ask the server to exit (stopping any answer); terminate it if it does not."""
        self.send({"cmd": "exit"})
        super().close(timeout)

"""What every chat backend offers: sampling settings, a streaming `chat`, and stop-word trimming (no torch)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Protocol


@dataclass
class GenParams:
    """Sampling settings of one answer; temperature 0 is greedy."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 512
    repetition_penalty: float = 1.0

    def update(self, data: dict) -> "GenParams":
        """A copy with the request's temperature, top_p, max_new_tokens, repetition_penalty applied (validated)."""
        temperature = float(data.get("temperature", self.temperature))
        top_p = float(data.get("top_p", self.top_p))
        max_new = int(data.get("max_new_tokens", self.max_new_tokens))
        penalty = float(data.get("repetition_penalty", self.repetition_penalty))
        if temperature < 0 or not 0 < top_p <= 1 or max_new < 1 or penalty <= 0:
            raise ValueError("temperature must be >= 0, top_p in (0, 1], max_new_tokens >= 1, repetition_penalty > 0")
        return GenParams(temperature, top_p, max_new, penalty)


class ChatBackend(Protocol):
    """A loaded model that streams the answer to a conversation."""

    name: str
    model: str
    default_system: str | None

    def stream(self, messages: list[dict], params: GenParams, stop: threading.Event) -> Iterator[str]:
        """Yield the answer's text pieces until a stop word, the token limit, or `stop` is set."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` is (for the tokens/s of an answer)."""
        ...


def with_system(messages: list[dict], system: str | None) -> list[dict]:
    """The messages with a leading system message when there is none and a default system prompt is set."""
    if system and not any(m.get("role") == "system" for m in messages):
        return [{"role": "system", "content": system}, *messages]
    return list(messages)


class StopFilter:
    """Cuts a text stream at the first stop word, holding back text that may be the start of one."""

    def __init__(self, stop_words: list[str]):
        self.stop_words = [w for w in stop_words if w]
        self.buffer = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """The text safe to show after this piece; sets `stopped` once a stop word appears."""
        if self.stopped:
            return ""
        self.buffer += piece
        hits = [i for w in self.stop_words if (i := self.buffer.find(w)) >= 0]
        if hits:
            self.stopped = True
            out, self.buffer = self.buffer[:min(hits)], ""
            return out
        keep = max((k for w in self.stop_words for k in range(1, len(w)) if self.buffer.endswith(w[:k])), default=0)
        out = self.buffer[:len(self.buffer) - keep]
        self.buffer = self.buffer[len(self.buffer) - keep:]
        return out

    def flush(self) -> str:
        """What is held back when the stream ends without a stop word."""
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        return out

"""Chat through llama.cpp (llama-cpp-python) with a GGUF file, streamed by create_chat_completion."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from .backend import GenParams, with_system

STOP_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")


class LlamaCppBackend:
    """Streams answers from a GGUF model; its own chat template unless a Jinja template is given."""

    name = "llama.cpp"

    def __init__(self, path: str | Path, n_ctx: int = 4096, jinja: str | None = None,
                 stop_words: list[str] | None = None, default_system: str | None = None, note: str = "",
                 n_gpu_layers: int = 0):
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.model = str(path)
        self.default_system = default_system
        self.note = note
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, verbose=False)
        self.device = "gpu (all layers)" if n_gpu_layers else "cpu"
        jinja = jinja or self.llm.metadata.get("tokenizer.chat_template")
        eos = self._token_text(self.llm.token_eos())
        self.stop_words = list(dict.fromkeys(stop_words or [w for w in STOP_MARKERS if jinja and w in jinja]))
        if jinja:
            formatter = Jinja2ChatFormatter(template=jinja, eos_token=eos, bos_token=self._token_text(
                self.llm.token_bos()), stop_token_ids=[self.llm.token_eos()])
            self.llm.chat_handler = formatter.to_chat_handler()

    def stream(self, messages: list[dict], params: GenParams, stop: threading.Event) -> Iterator[str]:
        """Yield text pieces of the answer as llama.cpp generates them."""
        chunks = self.llm.create_chat_completion(
            messages=with_system(messages, self.default_system), stream=True, temperature=params.temperature,
            top_p=params.top_p, max_tokens=params.max_new_tokens, stop=self.stop_words or None,
            repeat_penalty=params.repetition_penalty)
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                if text := chunk["choices"][0]["delta"].get("content"):
                    yield text
        finally:
            chunks.close()

    def close(self) -> None:
        """Free llama.cpp's model and context now (not at interpreter exit)."""
        self.llm.close()

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def _token_text(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""

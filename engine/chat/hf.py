"""Chat through transformers: a base model with its adapter (no merge), streamed by TextIteratorStreamer."""

from __future__ import annotations

import threading
from typing import Iterator

import torch
from transformers import (PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList,
                          TextIteratorStreamer)

from ..data.templates import Template, stop_token_ids
from .backend import GenParams, StopFilter, with_system


class _EventStop(StoppingCriteria):
    """Ends generation when the event is set (the user pressed stop, or a stop word showed up)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> bool:
        return self.event.is_set()


class TransformersBackend:
    """Streams answers from a transformers model with the chat template's stop tokens."""

    name = "transformers"

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, template: Template,
                 label: str = ""):
        self.model = label or str(getattr(model, "name_or_path", "model"))
        self.device = f"{model.device} {str(model.dtype).removeprefix('torch.')}"
        self._model = model
        self.tokenizer = tokenizer
        self.template = template
        self.default_system = template.default_system
        self.note = template.note
        self.stop_ids = stop_token_ids(tokenizer, template.stop_words)
        self.stop_text = list(template.stop_words)

    def stream(self, messages: list[dict], params: GenParams, stop: threading.Event) -> Iterator[str]:
        """Yield text pieces of the answer as the model generates them."""
        ids = self.template.prompt_ids(self.tokenizer, with_system(messages, self.default_system))
        input_ids = torch.tensor([ids], device=self._model.device)
        inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        halt = threading.Event()
        sampling = dict(do_sample=True, temperature=params.temperature, top_p=params.top_p) \
            if params.temperature > 0 else dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.repetition_penalty != 1.0:
            sampling["repetition_penalty"] = params.repetition_penalty
        kwargs = dict(**inputs, max_new_tokens=params.max_new_tokens, streamer=streamer,
                      eos_token_id=self.stop_ids, pad_token_id=self.tokenizer.pad_token_id or self.stop_ids[0],
                      stopping_criteria=StoppingCriteriaList([_EventStop(stop), _EventStop(halt)]), **sampling)
        worker = threading.Thread(target=self._generate, args=(kwargs, streamer), daemon=True)
        worker.start()
        cut = StopFilter(self.stop_text)
        try:
            for piece in streamer:
                if stop.is_set():
                    break
                if text := cut.feed(piece):
                    yield text
                if cut.stopped:
                    break
            if not stop.is_set() and (tail := cut.flush()):
                yield tail
        finally:
            halt.set()
            for _ in streamer:
                pass
            worker.join()

    def close(self) -> None:
        """Nothing to free beyond what the garbage collector does."""

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def _generate(self, kwargs: dict, streamer: TextIteratorStreamer) -> None:
        try:
            with torch.no_grad():
                self._model.generate(**kwargs)
        finally:
            streamer.end()

"""Chat backends on a tiny real model: both stream, stop at the template's stop token; REPL, --prompt, --jsonl."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time

import pytest

from engine.chat.backend import GenParams, StopFilter
from engine.chat.client import ChatProcess
from engine.config import parse_config
from tests.tiny import build_adapter, build_stopping_model

pytestmark = pytest.mark.slow
PROMPT = "Hello there!"


@pytest.fixture(scope="module")
def stopper(tmp_path_factory):
    """A model that answers PROMPT with four tokens then <|im_end|>, and that answer's text."""
    return build_stopping_model(tmp_path_factory.mktemp("chat") / "model", PROMPT)


@pytest.fixture(scope="module")
def hf_backend(stopper):
    from engine.chat.open import open_backend

    return open_backend(parse_config({"model_name_or_path": str(stopper[0]), "template": "chatml"}, "chat"))


def _answer(backend, max_new_tokens=40, prompt=PROMPT):
    return list(backend.stream([{"role": "user", "content": prompt}], GenParams(0.0, 1.0, max_new_tokens),
                               threading.Event()))


def test_stop_filter_cuts_stop_words_split_across_pieces():
    cut = StopFilter(["<|im_end|>"])
    assert cut.feed("Hello <|im") == "Hello "
    assert cut.feed("_en") == ""
    assert cut.feed("d|> more") == "" and cut.stopped
    keep = StopFilter(["<|im_end|>"])
    assert keep.feed("a <") == "a " and keep.flush() == "<"


def test_transformers_backend_streams_and_stops_at_the_stop_token(hf_backend, stopper):
    pieces = _answer(hf_backend)
    assert len(pieces) >= 2, "the answer arrives in pieces"
    assert "".join(pieces) == stopper[1]
    assert "<|im_end|>" not in "".join(pieces)


def test_repetition_penalty_changes_the_greedy_answer(hf_backend, stopper):
    plain = "".join(_answer(hf_backend))
    penalised = "".join(hf_backend.stream([{"role": "user", "content": PROMPT}],
                                          GenParams(0.0, 1.0, 40, repetition_penalty=50.0), threading.Event()))
    assert plain == stopper[1] and penalised != plain
    with pytest.raises(ValueError, match="repetition_penalty"):
        GenParams().update({"repetition_penalty": 0})


def test_transformers_backend_respects_max_new_tokens_and_stop_event(hf_backend):
    short = "".join(_answer(hf_backend, max_new_tokens=2))
    assert short and len(short) < len("".join(_answer(hf_backend)))
    stop = threading.Event()
    stop.set()
    assert "".join(hf_backend.stream([{"role": "user", "content": PROMPT}], GenParams(0.0, 1.0, 40), stop)) == ""


def test_transformers_backend_loads_base_plus_adapter_without_merging(stopper, tmp_path):
    from peft import PeftModel

    from engine.chat.open import chat_config, open_backend

    adapter = build_adapter(stopper[0], tmp_path / "lora")
    config = chat_config(str(adapter))
    assert config.adapter_name_or_path == str(adapter) and config.model_name_or_path == str(stopper[0])
    backend = open_backend(config)
    assert isinstance(backend._model, PeftModel)
    assert _answer(backend, max_new_tokens=5)


def test_llama_cpp_backend_streams_and_stops_at_the_stop_token(stopper, tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup-chat)")
    from engine.chat.open import chat_config, open_backend
    from engine.export.llamacpp import LlamaCppError, convert_to_gguf

    try:
        gguf = convert_to_gguf(stopper[0], tmp_path / "m-f16.gguf", "f16")
    except LlamaCppError as exc:
        pytest.skip(str(exc))
    backend = open_backend(chat_config(str(gguf)))
    try:
        assert backend.name == "llama.cpp" and "<|im_end|>" in backend.stop_words
        pieces = _answer(backend)
        assert len(pieces) >= 2
        assert "".join(pieces).strip() == stopper[1].strip()
    finally:
        backend.close()


def test_prompt_mode_prints_the_answer(stopper):
    result = subprocess.run([sys.executable, "-m", "lmftui.cli", "chat", str(stopper[0]), "template=chatml",
                             "--prompt", PROMPT, "--temperature", "0", "--max-new-tokens", "40"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == stopper[1] + "\n"


def test_repl_commands(hf_backend, stopper):
    from engine.chat.repl import Repl

    lines = iter(["/temp 0", "/max 40", PROMPT, "/regen", "/system Be brief.", "/top_p 2", "/clear", "/exit"])
    out = io.StringIO()
    repl = Repl(hf_backend, GenParams(), out)
    assert repl.run(lambda _: next(lines)) == 0
    text = out.getvalue()
    assert "temperature = 0.0" in text and "max_new_tokens = 40" in text and "system prompt set" in text
    assert text.count(stopper[1]) == 2, "the answer and its regeneration"
    assert "error: temperature must be" in text and "history cleared" in text
    assert repl.history == [] and repl.system == "Be brief."


def test_jsonl_server_streams_tokens_then_done_and_stops_on_request(stopper):
    chat = ChatProcess([str(stopper[0]), "template=chatml"]).start()
    try:
        ready = chat.read()
        assert ready and ready["type"] == "ready" and ready["backend"] == "transformers", chat.error_text()
        chat.ask([{"role": "user", "content": PROMPT}], temperature=0, top_p=1, max_new_tokens=40)
        tokens, record = [], chat.read()
        while record and record["type"] == "token":
            tokens.append(record["text"])
            record = chat.read()
        assert record["type"] == "done" and record["reason"] == "end" and "".join(tokens) == stopper[1] == record["text"]
        assert record["tokens"] >= 2 and record["tokens_per_s"] > 0, "the status line's tokens/s"
        assert ready["device"] == "cpu float32"
        # greedy: this prompt's answer runs past 600 tokens without <|im_end|>, so only the stop can end it
        chat.ask([{"role": "user", "content": "Tell me a long story."}], temperature=0, top_p=1,
                 max_new_tokens=5000)
        first = chat.read()
        chat.stop_answer()
        record = first
        while record and record["type"] != "done":
            record = chat.read()
        assert record["reason"] == "stopped"
        chat.send({"messages": "nope"})
        assert "bad request" in chat.read()["message"]
    finally:
        started = time.monotonic()
        chat.close()
        assert time.monotonic() - started < 10 and not chat.alive


def test_jsonl_server_reports_a_model_that_cannot_load(tmp_path):
    chat = ChatProcess([str(tmp_path / "missing.gguf")]).start()
    try:
        record = chat.read()
        assert record["type"] == "error" and record["fatal"] and "no GGUF file" in record["message"]
        assert chat.read() is None
    finally:
        chat.close()

"""Export planning, progress lines, Ollama Modelfiles and the converter extraction (no model)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from engine.config import ConfigError, TrainConfig, parse_config
from engine.data.templates import get_template
from engine.export.llamacpp import _extract_converter
from engine.export.ollama import chat_format, go_template, modelfile_text
from engine.export.pipeline import plan_export
from engine.export.progress import Progress
from tests.tiny import tiny_tokenizer


def _config(**kw):
    return parse_config({"model_name_or_path": "m", "export_dir": "/tmp/x/merged", **kw})


def test_plan_names_every_step_in_order():
    plan = plan_export(_config(export_gguf=["q4_k_m", "F16", "f16"]))
    assert plan.gguf == ["f16", "q4_k_m"], "converter types first: the k-quant is made from the f16 file"
    assert plan.steps == ["merge", "gguf f16", "gguf q4_k_m", "check", "ollama"]
    assert plan.gguf_path("q4_k_m") == Path("/tmp/x/merged/merged-q4_k_m.gguf")
    assert plan_export(_config()).steps == ["merge"]
    assert plan_export(_config(export_gguf=["q8_0"], export_ollama=False)).steps == ["merge", "gguf q8_0", "check"]


def test_plan_rejects_unknown_type_and_modelfile_without_gguf():
    with pytest.raises(ConfigError, match="export_gguf: unknown type 'q3_xx'"):
        plan_export(_config(export_gguf=["q3_xx"]))
    with pytest.raises(ConfigError, match="export_ollama"):
        plan_export(_config(export_ollama=True))


def test_progress_writes_json_lines_with_the_current_step():
    out = io.StringIO()
    progress = Progress(["merge", "gguf f16"], jsonl=True, stream=out)
    progress.plan()
    progress.start("merge", "loading")
    progress.done("merge", "ok", dtype="float32")
    progress.start("gguf f16")
    progress.fail("converter failed")
    progress.finish(False, [])
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["type"] for r in records] == ["plan", "start", "done", "start", "error", "finished"]
    assert records[1]["index"] == 1 and records[2]["dtype"] == "float32"
    assert records[4] == {**records[4], "step": "gguf f16", "message": "converter failed"}
    assert records[5]["ok"] is False


def test_progress_text_mode_is_readable():
    out = io.StringIO()
    progress = Progress(["merge"], stream=out)
    progress.start("merge", "loading")
    progress.done("merge", "3 files")
    assert "[1/1] merge: loading" in out.getvalue() and "✓ merge: 3 files" in out.getvalue()


@pytest.mark.parametrize("jinja,fmt", [
    ("{{ '<|im_start|>' + m['role'] }}", "chatml"), ("<|start_header_id|>", "llama3"), ("[INST] {{ m }} [/INST]", None),
])
def test_chat_format_of_a_tokenizer_template_by_markers(jinja, fmt):
    assert chat_format(jinja) == fmt


def test_modelfile_has_template_stops_and_system():
    go = go_template(get_template(TrainConfig(template="llama3"), tiny_tokenizer()))
    text = modelfile_text("m-q4_k_m.gguf", go, ["<|eot_id|>", "<|eom_id|>", "<|eot_id|>"], 'Be "brief".')
    assert text.startswith("FROM ./m-q4_k_m.gguf\n")
    assert 'PARAMETER stop "<|eot_id|>"\nPARAMETER stop "<|eom_id|>"\n' in text
    assert text.count("PARAMETER stop") == 2
    assert "<|start_header_id|>assistant<|end_header_id|>" in text
    assert 'SYSTEM """Be "brief"."""' in text
    own = go_template(get_template(TrainConfig(), tiny_tokenizer()))  # the tokenizer's own chatml Jinja
    assert "<|im_start|>{{ .Role }}" in modelfile_text("m.gguf", own, ["<|im_end|>"])
    assert "TEMPLATE" not in modelfile_text("m.gguf", None, ["</s>"])


GO_LLAMA3 = ('{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}'
             '{{- range .Messages }}{{ if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Content }}'
             '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{{ else if eq .Role "assistant" }}'
             '{{ .Content }}<|eot_id|>{{ else if eq .Role "tool" }}<|start_header_id|>ipython<|end_header_id|>\n\n'
             '{{ .Content }}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{{ end }}{{ end }}')


def test_go_templates_of_named_formats():
    assert go_template(get_template(TrainConfig(template="llama3"), tiny_tokenizer())) == GO_LLAMA3
    gemma = go_template(get_template(TrainConfig(template="gemma3"), tiny_tokenizer()))
    assert gemma.startswith('{{- $sys := .System }}{{- range .Messages }}{{ if eq .Role "user" }}<start_of_turn>user\n'
                            '{{ if $sys }}{{ $sys }}\n\n{{ $sys = "" }}{{ end }}{{ .Content }}<end_of_turn>\n')
    mistral = go_template(get_template(TrainConfig(template="mistral"), tiny_tokenizer()))
    assert '{{ .Content }}<|im_end|>{{ else if' in mistral  # eos written as the tokenizer's text
    nothink = go_template(get_template(TrainConfig(template="qwen3", enable_thinking=False), tiny_tokenizer()))
    assert nothink.endswith("{{ end }}{{ end }}<think>\n\n</think>\n\n")
    glm4 = go_template(get_template(TrainConfig(template="glm4"), tiny_tokenizer()))
    assert glm4.startswith("[gMASK]<sop>{{- if .System }}<|system|>\n{{ .System }}{{ end }}")


def test_converter_extraction_takes_only_the_converter(tmp_path):
    archive = tmp_path / "llama_cpp_python-9.9.9.tar.gz"
    files = {
        "vendor/llama.cpp/convert_hf_to_gguf.py": "print('convert')",
        "vendor/llama.cpp/conversion/__init__.py": "",
        "vendor/llama.cpp/gguf-py/gguf/__init__.py": "",
        "vendor/llama.cpp/src/llama.cpp": "int main;",
        "llama_cpp/llama.py": "",
    }
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"llama_cpp_python-9.9.9/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "out"
    _extract_converter(archive, dest)
    found = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert found == ["conversion/__init__.py", "convert_hf_to_gguf.py", "gguf-py/gguf/__init__.py"]

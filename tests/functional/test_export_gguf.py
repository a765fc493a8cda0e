"""GGUF export with llama.cpp's own tools: f16/q8_0 match the merged model, k-quants are written and load."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.config import parse_config
from engine.export.pipeline import plan_export, run_export
from engine.export.progress import Progress
from tests.tiny import build_adapter, build_chat_model

pytestmark = pytest.mark.slow
llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup-chat)")


def _export(root: Path, gguf: list[str], hidden: int = 64, intermediate: int = 128, **extra):
    base = build_chat_model(root / "base", hidden=hidden, intermediate=intermediate)
    lora = build_adapter(base, root / "lora")
    config = parse_config({"model_name_or_path": str(base), "adapter_name_or_path": str(lora), "template": "chatml",
                           "export_dir": str(root / "tiny"), "export_gguf": gguf, **extra}, "export")
    plan = plan_export(config)
    out = io.StringIO()
    try:
        files = run_export(config, Progress(plan.steps, jsonl=True, stream=out), plan)
    except Exception as exc:
        if "cannot fetch llama.cpp's converter" in str(exc):
            pytest.skip(str(exc))
        raise
    return files, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def float_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf-float")
    files, records = _export(root, ["f16", "q8_0"], default_system="You are tiny.")
    return root / "tiny", files, records


def test_f16_greedy_tokens_match_the_merged_model(float_export):
    out, files, records = float_export
    assert out / "tiny-f16.gguf" in files and out / "tiny-q8_0.gguf" in files
    check = next(r for r in records if r["type"] == "done" and r["step"] == "check")
    f16 = next(r for r in check["results"] if r["file"] == "tiny-f16.gguf")
    assert f16["top1"] > 0.9 and f16["matched"][0] > 0
    # a warning means some prompt's greedy tokens differ from the merged model's (not at a near-tie)
    assert not [r for r in records if r["type"] == "warning" and r["step"] == "check"]
    q8 = next(r for r in check["results"] if r["file"] == "tiny-q8_0.gguf")
    assert 0 < q8["top1"] <= 1


def test_gguf_keeps_tokenizer_and_chat_template(float_export):
    out, _, _ = float_export
    llm = llama_cpp.Llama(model_path=str(out / "tiny-f16.gguf"), n_ctx=128, verbose=False)
    try:
        assert "<|im_start|>" in llm.metadata["tokenizer.chat_template"]
        assert llm.detokenize([llm.token_eos()], special=True) == b"<|im_end|>"
        assert len(llm.tokenize(b"<|im_start|>", add_bos=False, special=True)) == 1
    finally:
        llm.close()


def test_modelfile_names_the_template_stop_tokens(float_export):
    out, files, _ = float_export
    text = (out / "Modelfile").read_text()
    assert text.startswith("FROM ./tiny-q8_0.gguf")
    assert 'PARAMETER stop "<|im_end|>"' in text and 'PARAMETER stop "<|im_start|>"' in text  # chatml's stop words
    assert '{{ if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n<|im_start|>assistant\n' in text
    assert 'SYSTEM """You are tiny."""' in text
    assert not [p for p in out.iterdir() if p.name.endswith((".part", ".scratch.gguf"))]


def test_k_quants_are_written_and_load(tmp_path):
    files, records = _export(tmp_path, ["q4_k_m", "q5_k_m", "q6_k"], hidden=256, intermediate=512,
                             export_ollama=False)
    # general.file_type: llama.cpp's LLAMA_FTYPE of the whole file
    expected = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "q5_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
                "q6_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K}
    for kind, ftype in expected.items():
        path = tmp_path / "tiny" / f"tiny-{kind}.gguf"
        assert path in files
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, verbose=False)
        try:
            assert int(llm.metadata["general.file_type"]) == ftype
            assert llm.n_vocab() > 256
        finally:
            llm.close()
    assert not list((tmp_path / "tiny").glob(".*.gguf*")), "the scratch f16 file is removed"
    check = next(r for r in records if r["type"] == "done" and r["step"] == "check")
    assert all(0 <= r["top1"] <= 1 for r in check["results"])


def test_failed_conversion_leaves_no_file_under_the_final_name(tmp_path, monkeypatch):
    from engine.export.llamacpp import LlamaCppError, llama_cpp_version

    tools = tmp_path / "cache" / "llama.cpp" / llama_cpp_version()
    tools.mkdir(parents=True)
    (tools / "convert_hf_to_gguf.py").write_text(
        "import sys\nout = sys.argv[sys.argv.index('--outfile') + 1]\nopen(out, 'wb').write(b'GGUF half')\n"
        "sys.exit('RuntimeError: disk full')\n")
    monkeypatch.setenv("LMF_TUI_CACHE", str(tmp_path / "cache"))
    with pytest.raises(LlamaCppError, match="disk full"):
        _export(tmp_path, ["f16"])
    assert (tmp_path / "tiny" / "model.safetensors").exists()
    assert not list((tmp_path / "tiny").glob("*.gguf*")) and not list((tmp_path / "tiny").glob(".*.part"))

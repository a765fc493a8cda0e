"""The export job: merge → GGUF conversion → quantization → check → Ollama Modelfile, each step reported."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, TrainConfig, atomic_write_text
from .llamacpp import CONVERTER_TYPES, GGUF_TYPES, QUANT_TYPES, LlamaCppError, llama_cpp_version
from .progress import Progress

FLOAT_TYPES = ("f32", "f16", "bf16")


@dataclass
class ExportPlan:
    """What an export config asks for: GGUF types in order, whether to write a Modelfile, the step names."""

    export_dir: Path
    gguf: list[str]
    ollama: bool
    steps: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.export_dir.name

    def gguf_path(self, kind: str) -> Path:
        return self.export_dir / f"{self.stem}-{kind}.gguf"


def plan_export(config: TrainConfig) -> ExportPlan:
    """Validate the GGUF types and name the steps; a bad type is a one-line ConfigError."""
    if not config.export_dir:
        raise ConfigError("export_dir: is required — set the folder the merged model is written to")
    kinds = [k.strip().lower() for k in config.export_gguf or []]
    if bad := [k for k in kinds if k not in GGUF_TYPES]:
        raise ConfigError(f"export_gguf: unknown type {bad[0]!r} — use some of {', '.join(GGUF_TYPES)}")
    kinds = sorted(dict.fromkeys(kinds), key=lambda k: k not in CONVERTER_TYPES)  # quantize from a file written
    ollama = bool(kinds) if config.export_ollama is None else config.export_ollama
    if ollama and not kinds:
        raise ConfigError("export_ollama: an Ollama Modelfile needs a GGUF file — set export_gguf: [q4_k_m]")
    plan = ExportPlan(Path(config.export_dir).expanduser(), kinds, ollama)
    plan.steps = ["merge", *(f"gguf {k}" for k in kinds), *(["check"] if kinds else []),
                  *(["ollama"] if ollama else [])]
    return plan


def run_export(config: TrainConfig, progress: Progress | None = None, plan: ExportPlan | None = None) -> list[Path]:
    """Run every step of the export; raises ConfigError or LlamaCppError on the first failure."""
    plan = plan or plan_export(config)
    progress = progress or Progress(plan.steps)
    if plan.gguf:
        llama_cpp_version()
    from .merge import load_merged, save_merged

    progress.start("merge", f"{config.model_name_or_path} + {config.adapter_name_or_path or 'no adapter'}")
    model, tokenizer, template = load_merged(config)
    if template.note:
        progress.warn("merge", template.note)
    if config.export_legacy_format:
        progress.warn("merge", "export_legacy_format: transformers 5 writes safetensors only")
    written = save_merged(model, tokenizer, template, plan.export_dir, config.export_size)
    dtype = str(model.dtype).removeprefix("torch.")
    progress.done("merge", f"{len(written)} files in {plan.export_dir} ({dtype})", dtype=dtype)
    files = [p for p in written if p.suffix in (".safetensors", ".json", ".jinja")]
    del model
    gc.collect()
    if plan.gguf:
        files += _write_gguf(plan, progress, dtype)
        _check(plan, progress, template.stop_words)
    if plan.ollama:
        files.append(_write_modelfile(plan, progress, config, template))
    return files


def _write_gguf(plan: ExportPlan, progress: Progress, dtype: str) -> list[Path]:
    from .llamacpp import convert_to_gguf, quantize_gguf

    out: list[Path] = []
    base_kind = "bf16" if "bf16" in plan.gguf or dtype == "bfloat16" and "f16" not in plan.gguf else "f16"
    base_file: Path | None = None
    scratch: list[Path] = []
    try:
        for kind in plan.gguf:
            step = f"gguf {kind}"
            target = plan.gguf_path(kind)
            part = target.with_name(f".{target.name}.part")
            scratch.append(part)
            if kind in CONVERTER_TYPES:
                progress.start(step, "llama.cpp convert_hf_to_gguf.py")
                convert_to_gguf(plan.export_dir, part, kind)
            else:
                if base_file is None:
                    base_file = plan.gguf_path(base_kind) if base_kind in plan.gguf else None
                    if base_file is None or not base_file.exists():
                        base_file = plan.export_dir / f".{plan.stem}-{base_kind}.scratch.gguf"
                        scratch.append(base_file)
                        progress.start(step, f"converting to {base_kind} first")
                        convert_to_gguf(plan.export_dir, base_file, base_kind)
                progress.start(step, f"llama.cpp quantize from {base_kind}")
                quantize_gguf(base_file, part, kind)
            os.replace(part, target)
            out.append(target)
            progress.done(step, f"{target.name} ({target.stat().st_size / 2**20:.1f} MiB)", file=str(target))
    finally:
        for path in scratch:
            path.unlink(missing_ok=True)
    return out


def _check(plan: ExportPlan, progress: Progress, stop_words: list[str]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .check import check_gguf

    progress.start("check", "greedy tokens of the GGUF files vs the merged model")
    model = AutoModelForCausalLM.from_pretrained(plan.export_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(plan.export_dir)
    results = check_gguf(model, tokenizer, stop_words, [plan.gguf_path(k) for k in plan.gguf])
    for kind, result in zip(plan.gguf, results):
        if kind in FLOAT_TYPES and not result.greedy_match:
            progress.warn("check", f"{result.gguf}: greedy tokens differ from the merged model ({result.summary()})")
    summary = "; ".join(f"{r.gguf}: {r.summary()}" for r in results)
    progress.done("check", summary, results=[{"file": r.gguf, "matched": r.matched, "compared": r.compared,
                                              "top1": round(r.top1, 4)} for r in results])


def _write_modelfile(plan: ExportPlan, progress: Progress, config: TrainConfig, template) -> Path:
    from .ollama import go_template, modelfile_text

    progress.start("ollama", "Modelfile")
    quantized = [k for k in plan.gguf if k in QUANT_TYPES or k == "q8_0"]
    gguf = plan.gguf_path((quantized or plan.gguf)[0]).name
    go_text = go_template(template)
    if go_text is None:
        progress.warn("ollama", "no Go template for this chat format: Ollama will use the GGUF's own template")
    path = atomic_write_text(plan.export_dir / "Modelfile",
                             modelfile_text(gguf, go_text, template.stop_words, template.default_system))
    progress.done("ollama", f"{path} (ollama create NAME -f {path})", file=str(path))
    return path


__all__ = ["ExportPlan", "plan_export", "run_export", "LlamaCppError"]

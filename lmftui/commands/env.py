"""`lmf-tui env`: versions, GPUs and memory of this machine, to paste into a bug report (or --json)."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform

from engine.hardware import HardwareInfo, detect_hardware

from .. import __version__

PACKAGES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "textual", "bitsandbytes", "gguf",
            "nvidia-ml-py", "llama-cpp-python", "deepspeed", "flash-attn", "unsloth")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="print versions, GPUs and memory (for bug reports)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def package_versions() -> dict[str, str | None]:
    """Installed version of each package, read from its metadata (nothing is imported)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment(hardware: HardwareInfo) -> dict:
    """Everything `env` reports, as plain data."""
    return {"lmf_tui": __version__, "platform": platform.platform(), "python": platform.python_version(),
            "packages": package_versions(), "hardware": hardware.to_dict(), "summary": hardware.summary()}


def format_env(env: dict) -> str:
    """Markdown bullet lines like `llamafactory-cli env`."""
    hw = env["hardware"]
    lines = [f"- `lmf-tui` version: {env['lmf_tui']}", f"- Platform: {env['platform']}",
             f"- Python version: {env['python']}"]
    lines += [f"- {name} version: {version}" for name, version in env["packages"].items() if version]
    lines.append(f"- CPU: {hw['cpu_name']} ({hw['cpu_count']} cores)")
    lines.append(f"- RAM: {hw['ram_total_gb']:.1f} GB ({hw['ram_available_gb']:.1f} GB available)")
    source = f" (GPU facts from {hw['source']})" if hw["source"] != "none" else ""
    lines.append(f"- Backend: {hw['backend']}{source}")
    if hw["driver_version"] or hw["cuda_version"]:
        lines.append(f"- NVIDIA driver: {hw['driver_version'] or '?'}, CUDA (driver): {hw['cuda_version'] or '?'}")
    for gpu in hw["gpus"]:
        cc = ".".join(map(str, gpu["compute_capability"])) if gpu["compute_capability"] else "?"
        used = f"{gpu['memory_used_gb']:.1f}" if gpu["memory_used_gb"] is not None else "?"
        flags = ", bf16" if gpu["bf16"] else ""
        lines.append(f"- GPU {gpu['index']}: {gpu['name']}, {used}/{gpu['memory_total_gb']:.1f} GB used, "
                     f"compute capability {cc}{flags}")
        lines += [f"  - pid {p['pid']} {p['name']}: {p['memory_gb'] if p['memory_gb'] is not None else '?'} GB"
                  for p in gpu["processes"]]
    if not hw["gpus"]:
        lines.append("- GPU: none (" + ("Apple MPS" if hw["backend"] == "mps" else "CPU only") + ")")
    lines.append(f"- bitsandbytes: {'yes' if hw['bitsandbytes_available'] else 'no'}, "
                 f"flash-attn: {'yes' if hw['flash_attn_available'] else 'no'}, "
                 f"unsloth: {'yes' if hw['unsloth_available'] else 'no'}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    env = environment(detect_hardware())
    print(json.dumps(env, indent=2) if args.json else format_env(env))
    return 0

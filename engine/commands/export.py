"""`lmf-tui export CONFIG [key=value ...]`: merge adapters, write GGUF files and an Ollama Modelfile."""

from __future__ import annotations

import argparse

from engine.config import ConfigError, load_config
from engine.errors import explain
from engine.export.progress import Progress
from engine.quiet import skip_unused_libraries

from .common import fail


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="merge an adapter into its base; write safetensors, GGUF and an Ollama Modelfile",
        description="Export from a LLaMA-Factory export YAML (model_name_or_path, adapter_name_or_path, template, "
                    "export_dir, export_size…) plus export_gguf: [f16, q4_k_m] and export_ollama.",
        epilog="example: lmf-tui export merge.yaml export_gguf=[f16,q4_k_m]",
    )
    p.add_argument("config", help="export YAML file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys, typed by the schema")
    p.add_argument("--progress-jsonl", action="store_true", help="report progress as JSON lines on stdout")


def run(args: argparse.Namespace) -> int:
    from engine.export.pipeline import plan_export
    try:
        config = load_config(args.config, args.overrides, purpose="export")
        skip_unused_libraries(config.quantization_bit)
        plan = plan_export(config)
    except ConfigError as exc:
        return _failed(args, str(exc), 2)
    progress = Progress(plan.steps, jsonl=args.progress_jsonl)
    progress.plan()
    try:
        from engine.export.pipeline import run_export

        files = run_export(config, progress, plan)
    except KeyboardInterrupt:
        return _failed_step(progress, "interrupted", 130)
    except Exception as exc:
        if (line := explain(exc)) is None:
            progress.fail(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
            progress.finish(False, [])
            raise  # a bug: engine.commands.run_command keeps its traceback in a file
        return _failed_step(progress, line, 1)
    progress.finish(True, [str(f) for f in files])
    return 0


def _failed_step(progress, message: str, code: int) -> int:
    progress.fail(message)
    progress.finish(False, [])
    return fail(message, code)


def _failed(args: argparse.Namespace, message: str, code: int) -> int:
    if args.progress_jsonl:
        progress = Progress(["config"], jsonl=True)
        progress.fail(message)
        progress.finish(False, [])
    return fail(message, code)

"""`lmf-tui chat CONFIG|MODEL_DIR|FILE.gguf [key=value ...]`: a REPL, one --prompt, or a --jsonl server."""

from __future__ import annotations

import argparse
import sys

from engine.config import ConfigError
from engine.wire import write

from .common import fail


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chat", help="chat with a model: base + adapter (transformers) or a .gguf file (llama.cpp)",
        description="Chat with a config's model (base + adapter), a model or adapter folder, a .gguf file or a "
                    "hub id. REPL commands: /system TEXT, /temp X, /top_p X, /max N, /regen, /clear, /exit.",
        epilog="example: lmf-tui chat out/merged/merged-q4_k_m.gguf --prompt 'Hello' --max-new-tokens 64",
    )
    p.add_argument("source", help="config YAML, model folder, adapter folder, .gguf file or hub id")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys, typed by the schema")
    p.add_argument("--prompt", help="answer this one prompt, print it and exit")
    p.add_argument("--system", help="system prompt (default: the config's default_system)")
    p.add_argument("--max-new-tokens", type=int, help="longest answer in tokens (default: the config's)")
    p.add_argument("--temperature", type=float, help="sampling temperature, 0 = greedy (default: the config's)")
    p.add_argument("--top-p", type=float, help="nucleus sampling mass (default: the config's)")
    p.add_argument("--repetition-penalty", type=float, help="penalty on repeated tokens, 1 = none (default: the config's)")
    p.add_argument("--device", default="auto", metavar="DEVICE",
                   help="auto (the freest GPU in bf16/fp16, else the CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--jsonl", action="store_true",
                   help='serve JSON lines: read {"messages": [...]} or {"cmd": "stop"}, '
                        'write {"type": "token"} and {"type": "done"}')


def run(args: argparse.Namespace) -> int:
    from engine.chat.backend import GenParams
    from engine.chat.open import chat_config
    from engine.quiet import skip_unused_libraries

    try:
        config = chat_config(args.source, args.overrides)
        skip_unused_libraries(config.quantization_bit)
        params = GenParams(config.temperature if config.do_sample else 0.0, config.top_p,
                           config.max_new_tokens, config.repetition_penalty).update(_flags(args))
    except ConfigError as exc:
        return _startup_failed(args, str(exc))
    except ValueError as exc:
        return _startup_failed(args, f"sampling: {exc}")
    try:
        from engine.chat.open import open_backend

        backend = open_backend(config, device=args.device)
    except ConfigError as exc:
        return _startup_failed(args, str(exc))
    except Exception as exc:  # a model that cannot load: one line, not a traceback
        return _startup_failed(args, f"cannot load {args.source}: {type(exc).__name__}: "
                                     f"{(str(exc).splitlines() or [''])[0]}")
    if args.system is not None:
        backend.default_system = args.system
    try:
        if args.jsonl:
            from engine.chat.server import serve_jsonl

            return serve_jsonl(backend, params, sys.stdin, sys.stdout)
        if args.prompt is not None:
            return _answer_once(backend, params, args.prompt)
        from engine.chat.repl import Repl

        return Repl(backend, params, sys.stdout).run()
    finally:
        backend.close()


def _flags(args: argparse.Namespace) -> dict:
    pairs = {"temperature": args.temperature, "top_p": args.top_p, "max_new_tokens": args.max_new_tokens,
             "repetition_penalty": args.repetition_penalty}
    return {k: v for k, v in pairs.items() if v is not None}


def _answer_once(backend, params, prompt: str) -> int:
    import threading

    for piece in backend.stream([{"role": "user", "content": prompt}], params, threading.Event()):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _startup_failed(args: argparse.Namespace, message: str) -> int:
    if args.jsonl:
        write(sys.stdout, "error", message=message, fatal=True)
    return fail(message)

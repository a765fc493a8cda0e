"""`lmf-tui expand MODEL OUTPUT --num-expand N`: LLaMA Pro block expansion, as LLaMA-Factory's llama_pro script."""

from __future__ import annotations

import argparse

from engine.config import ConfigError

from .common import fail


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "expand", help="LLaMA Pro: add copied blocks with zeroed output projections, then train only those",
        description="Insert N decoder blocks (each a copy of the block before it, with o_proj and down_proj set to "
                    "zero, so outputs are unchanged) and save the expanded model with its tokenizer.",
        epilog="then train it with: finetuning_type: freeze, use_llama_pro: true, freeze_trainable_layers: N",
    )
    p.add_argument("model", metavar="MODEL", help="hub id, local folder, .gguf file or embedded:NAME")
    p.add_argument("output", metavar="OUTPUT", help="new folder for the expanded model")
    p.add_argument("--num-expand", type=int, required=True, metavar="N",
                   help="blocks to add; must divide the model's layer count")
    p.add_argument("--shard-size", default="5GB", metavar="SIZE", help="largest safetensors shard (default 5GB)")


def run(args: argparse.Namespace) -> int:
    if args.num_expand <= 0:
        return fail(f"--num-expand must be positive, got {args.num_expand}")
    from engine.models.llama_pro import write_expanded

    try:
        out = write_expanded(args.model, args.output, args.num_expand, args.shard_size)
    except ConfigError as exc:
        return fail(str(exc))
    print(f"Expanded model written to {out}. Fine-tune it with:")
    print(f"  model_name_or_path: {out}\n  finetuning_type: freeze\n  freeze_trainable_layers: {args.num_expand}\n"
          "  use_llama_pro: true")
    return 0

"""`lmf-tui download REPO`: fetch a hub model (or --dataset) into the Hugging Face cache before a run needs it."""

from __future__ import annotations

import argparse
import sys

from engine.commands.common import fail
from engine.config import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download", help="fetch a hub model or data set into the cache, with progress",
                       description="Download a Hugging Face repository before training: resumable, disk space "
                                   "checked first, progress (bytes, rate, ETA) on the terminal.",
                       epilog="example: lmf-tui download Qwen/Qwen3-8B")
    p.add_argument("repo", help="hub id, e.g. Qwen/Qwen3-8B")
    p.add_argument("--dataset", action="store_true", help="the id is a data set, not a model")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--cache-dir", help="cache folder (default: the Hugging Face cache, HF_HOME)")


def run(args: argparse.Namespace) -> int:
    from engine.download import DownloadProgress, prefetch

    live = sys.stdout.isatty()

    def show(progress: DownloadProgress) -> None:
        end = "\n" if progress.finished or not live else ""
        print(("\r\033[K" if live else "") + progress.line(), end=end, flush=True)

    try:
        path = prefetch(args.repo, show, repo_type="dataset" if args.dataset else "model",
                        revision=args.revision, cache_dir=args.cache_dir)
    except ConfigError as exc:
        return fail(str(exc))
    print(path)
    return 0

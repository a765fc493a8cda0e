"""`lmf-tui doctor`: what is installed, what each missing piece would enable, and the command to add it."""

from __future__ import annotations

import argparse
import json

from engine.doctor import as_dicts, diagnose, format_findings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="what is installed, and what each missing piece would enable (with the command)")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def run(args: argparse.Namespace) -> int:
    from engine.hardware import detect_hardware

    findings = diagnose(gpus=len(detect_hardware().gpus))
    print(json.dumps(as_dicts(findings), indent=2) if args.json else format_findings(findings))
    return 0

"""One module per `lmf-tui` sub-command; each has `add_parser(subparsers)` and `run(args) -> int`."""

COMMANDS = ("train", "data", "runs", "attach", "env", "suggest", "export", "chat", "bench")

"""The `lmf-tui` sub-commands: the engine's own (train, data, export, chat, predict: `engine.commands`) and the app's.

Each module has `add_parser(subparsers)` and `run(args) -> int`.
"""

COMMANDS = {
    "train": "lmftui.commands.train", "data": "engine.commands.data", "runs": "lmftui.commands.runs",
    "attach": "lmftui.commands.attach", "env": "lmftui.commands.env", "suggest": "lmftui.commands.suggest",
    "export": "lmftui.commands.export", "chat": "engine.commands.chat", "bench": "lmftui.commands.bench",
    "stop": "lmftui.commands.stop", "pull": "lmftui.commands.pull", "hosts": "lmftui.commands.hosts",
    "predict": "engine.commands.predict",
    "expand": "engine.commands.expand",
    "doctor": "lmftui.commands.doctor",
    "download": "lmftui.commands.download",
}

"""One-line configuration errors that name the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """A broken rule: the fields involved, what is wrong, and how to fix it."""

    fields: tuple[str, ...]
    message: str
    fix: str = ""

    def __str__(self) -> str:
        head = ", ".join(self.fields)
        text = f"{head}: {self.message}" if head else self.message
        return f"{text} — {self.fix}" if self.fix else text


class ConfigError(ValueError):
    """A config that cannot run; `str()` is one line for the user."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem((), problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = problems
        super().__init__(str(problems[0]) if len(problems) == 1 else "; ".join(map(str, problems)))

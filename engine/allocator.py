"""tcmalloc under CPU training: the memory allocator a training process runs with.

glibc's malloc serves a training step's activation-sized blocks from one heap and cannot reuse the holes
autograd leaves as it frees them, so a CPU run's peak RSS carries gigabytes that hold no tensor (measured on
the bench: 2 GB over 4 GB of live memory); returning them to the system on every free instead costs half the
speed in page faults. tcmalloc, the allocator PyTorch's CPU launcher (`torch.backends.xeon.run_cpu`) preloads
for the same reason, reuses them at no cost. A `train` started as a program re-executes itself once with
tcmalloc preloaded when the system has it (Debian/Ubuntu: libtcmalloc-minimal4, which `make setup` installs);
`LMF_TUI_ALLOCATOR=system` keeps glibc's.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

NAMES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so")
FOLDERS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
           "/usr/lib", "/usr/local/lib")
TRAINING_COMMANDS = ("train", "bench")
CHOICE = "LMF_TUI_ALLOCATOR"  # "system": leave the allocator alone
DONE = "LMF_TUI_ALLOCATOR_SET"  # set on the re-executed process: never twice


@cache
def find_tcmalloc() -> Path | None:
    """The tcmalloc library of this system (or of the Python environment), if any (looked up once: the
    estimator asks on every change of a form)."""
    for folder in (Path(sys.prefix) / "lib", *map(Path, FOLDERS)):
        for name in NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


@cache
def allocator_in_use() -> str:
    """"tcmalloc" when this process runs on it, else "system" (fixed when the process starts)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "system"
    return "tcmalloc" if "libtcmalloc" in maps else "system"


def planned_allocator() -> str:
    """The allocator a CPU training run started here will use: "tcmalloc" or "system"."""
    if allocator_in_use() == "tcmalloc":
        return "tcmalloc"
    usable = sys.platform.startswith("linux") and os.environ.get(CHOICE) != "system"
    return "tcmalloc" if usable and find_tcmalloc() is not None else "system"


def reexec_with_tcmalloc() -> None:
    """Replace this process by the same command line with tcmalloc preloaded (same pid, same environment), when
    on Linux, not done yet, not turned off, and the library is there. Call first thing in a program's entry
    point, never from a process that hosts other work (tests, the app)."""
    if (not sys.platform.startswith("linux") or os.environ.get(DONE) or os.environ.get(CHOICE) == "system"
            or allocator_in_use() == "tcmalloc" or not getattr(sys, "orig_argv", None)):
        return
    library = find_tcmalloc()
    if library is None:
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, (env.get("LD_PRELOAD"), str(library))))
    env[DONE] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)


def for_training(command: str | None, dry_run: bool = False) -> None:
    """At a program's start: re-execute under tcmalloc before a command that trains."""
    if command in TRAINING_COMMANDS and not dry_run:
        reexec_with_tcmalloc()

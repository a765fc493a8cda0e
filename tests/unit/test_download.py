"""Downloads, offline: progress (bytes, rate, ETA) driven from a local source, a model already in a temporary
Hugging Face cache, the disk check, the `download` journal events on the monitor's bar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import ConfigError
from engine.download import ByteMeter, DownloadProgress, check_disk_space, meter_tqdm, prefetch
from lmftui.run_history import RunHistory


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def copy_through(source: Path, target: Path, on_chunk, chunk: int = 64 << 10) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        while block := src.read(chunk):
            dst.write(block)
            on_chunk(len(block))


def test_progress_reports_bytes_rate_and_eta_from_a_local_copy(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(1 << 20))
    clock, seen = Clock(), []
    meter = ByteMeter("org/tiny", seen.append, total=source.stat().st_size, every_s=1.0, clock=clock)

    def chunk(n: int) -> None:
        clock.now += 0.25  # 64 KiB every quarter second
        meter.advance(n)

    copy_through(source, tmp_path / "copy.bin", chunk)
    final = meter.report(finished=True)
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
    assert 3 <= len(seen) <= 6, "about one report a second, not one per chunk"
    assert [p.bytes for p in seen] == sorted(p.bytes for p in seen)
    middle = seen[1]
    assert middle.rate == pytest.approx(256 * 1024, rel=0.01) and middle.eta_s == pytest.approx(
        (middle.total - middle.bytes) / middle.rate)
    assert final.finished and final.bytes == final.total == 1 << 20
    assert "downloading org/tiny: 0.00/0.00 GB" in middle.line() and "MB/s · ETA" in middle.line()


def test_the_hub_tqdm_adapter_counts_byte_bars_only(tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []
    meter = ByteMeter("org/tiny", seen.append, every_s=0.0)
    bar_class = meter_tqdm(meter)
    files = bar_class(total=3, desc="Fetching 3 files")
    data = bar_class(total=0, unit="B", unit_scale=True, desc="Reconstructing (incomplete total...)", name="hub")
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 300_000)
    meter.add_total(300_000)
    copy_through(source, tmp_path / "g.bin", data.update)
    files.update(3)
    files.close(), data.close()
    assert meter.bytes == 300_000 and seen[-1].bytes == 300_000 and seen[-1].total == 300_000


def cached_model(cache: Path, repo: str = "org/tiny") -> Path:
    """A model in the hub cache layout, as a finished download leaves it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"model_type": "llama"}')
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    return snapshot


def test_a_cached_model_is_found_offline_and_a_missing_one_fails_in_one_line(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    snapshot = cached_model(tmp_path / "hub")
    assert prefetch("org/tiny", cache_dir=str(tmp_path / "hub")) == snapshot
    with pytest.raises(ConfigError, match="org/absent: not in the Hugging Face cache"):
        prefetch("org/absent", cache_dir=str(tmp_path / "hub"))


def test_download_command_prints_the_snapshot_folder_offline(tmp_path: Path) -> None:
    snapshot = cached_model(tmp_path / "hub")
    done = subprocess.run([sys.executable, "-m", "lmftui.cli", "download", "org/tiny", "--cache-dir",
                           str(tmp_path / "hub")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(snapshot)


def test_disk_space_is_checked_before_a_download(tmp_path: Path) -> None:
    check_disk_space("org/small", 1000, tmp_path / "not" / "yet")
    with pytest.raises(ConfigError, match=r"^disk: org/huge needs .* GB free — free some space"):
        check_disk_space("org/huge", 10**18, tmp_path)


def test_download_events_drive_the_monitor_progress_until_training_starts() -> None:
    history = RunHistory()
    history.add({"type": "download", "what": "org/big", "bytes": 4_000_000_000, "total": 16_000_000_000,
                 "rate": 50_000_000.0, "eta_s": 240.0, "finished": False})
    assert history.downloading
    assert history.progress_text() == "downloading org/big 4.00/16.00 GB · 50.0 MB/s · ETA 4m00s"
    history.add({"type": "download", "what": "org/big", "bytes": 16_000_000_000, "total": 16_000_000_000,
                 "rate": 50_000_000.0, "eta_s": 0.0, "finished": True})
    assert not history.downloading and history.messages[-1] == ("download", "org/big: 16.00 GB")

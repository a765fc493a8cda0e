"""Hub downloads as a user sees them: fetched before loading (huggingface-hub's resumable snapshot download),
the disk space checked first, and progress — bytes, rate, ETA — reported to a callback (journal, echo, bar)."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError

REPORT_EVERY_S = 1.0
DISK_MARGIN = 1.05  # what a download needs on disk, over the bytes of its files


@dataclass(frozen=True)
class DownloadProgress:
    """How far a download is: the journal's `download` event carries these fields."""

    what: str
    bytes: int
    total: int
    rate: float  # bytes per second, since the start
    eta_s: float | None
    finished: bool = False

    def line(self) -> str:
        """`downloading Qwen/Qwen3-8B: 1.2/16.4 GB · 52.0 MB/s · ETA 4m52s`."""
        if self.finished:
            return f"downloaded {self.what}: {gigabytes(self.total)} GB"
        eta = f" · ETA {int(self.eta_s // 60)}m{int(self.eta_s % 60):02d}s" if self.eta_s is not None else ""
        return (f"downloading {self.what}: {gigabytes(self.bytes)}/{gigabytes(self.total)} GB · "
                f"{self.rate / 1e6:.1f} MB/s{eta}")

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.2f}" if n < 1e10 else f"{n / 1e9:.1f}"


class ByteMeter:
    """Counts the bytes of a download against its total and reports progress at most every `every_s` seconds."""

    def __init__(self, what: str, on_progress: Callable[[DownloadProgress], None], total: int = 0,
                 every_s: float = REPORT_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.what, self.on_progress, self.total, self.every_s, self.clock = what, on_progress, total, every_s, clock
        self.bytes = 0
        self.started = clock()
        self._last = float("-inf")

    def add_total(self, n: int) -> None:
        self.total += int(n or 0)

    def advance(self, n: int) -> None:
        self.bytes += int(n or 0)
        if self.clock() - self._last >= self.every_s:
            self.report()

    def report(self, finished: bool = False) -> DownloadProgress:
        now = self.clock()
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        rate = self.bytes / elapsed
        left = max(self.total - self.bytes, 0)
        eta = left / rate if rate > 0 and self.total else None
        progress = DownloadProgress(self.what, self.bytes, max(self.total, self.bytes), rate,
                                    0.0 if finished else eta, finished)
        self.on_progress(progress)
        return progress


def meter_tqdm(meter: ByteMeter) -> type:
    """A tqdm class for snapshot_download that feeds its byte bar into `meter` and draws nothing."""
    from tqdm.auto import tqdm

    class MeterTqdm(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            self._counts_bytes = kwargs.get("unit") == "B" and not str(kwargs.get("desc", "")).startswith("Downloading")
            super().__init__(*args, **{**kwargs, "file": io.StringIO(), "disable": False})

        def update(self, n: float | None = 1) -> bool | None:
            if self._counts_bytes:
                meter.advance(int(n or 0))
            return super().update(n)

    return MeterTqdm


def prefetch(repo_id: str, on_progress: Callable[[DownloadProgress], None] | None = None,
             repo_type: str = "model", revision: str | None = None, cache_dir: str | None = None,
             token: str | None = None) -> Path:
    """The repository's snapshot folder, downloaded first when needed: resumable, disk space checked first."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    common = dict(repo_id=repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir, token=token)
    report = on_progress or (lambda progress: None)
    if constants.HF_HUB_OFFLINE:
        try:
            return Path(snapshot_download(**common, local_files_only=True))
        except LocalEntryNotFoundError:
            raise ConfigError(f"{repo_id}: not in the Hugging Face cache and HF_HUB_OFFLINE is set — "
                              f"run `lmf-tui download {repo_id}` where the hub is reachable") from None
    try:
        files = snapshot_download(**common, dry_run=True)
    except (OSError, HfHubHTTPError) as exc:  # hub unreachable: the cache, as transformers would
        try:
            return Path(snapshot_download(**common, local_files_only=True))
        except LocalEntryNotFoundError:
            raise ConfigError(f"{repo_id}: cannot reach the Hugging Face hub ({type(exc).__name__}) and it is not "
                              "in the cache — check the network, or the id") from None
    needed = sum(f.file_size or 0 for f in files if f.will_download)
    total = sum(f.file_size or 0 for f in files)
    folder = Path(cache_dir or constants.HF_HUB_CACHE)
    check_disk_space(repo_id, needed, folder)
    meter = ByteMeter(repo_id, report, total=total)
    meter.bytes = total - needed  # already in the cache: resumed, not fetched again
    path = Path(snapshot_download(**common, tqdm_class=meter_tqdm(meter)))
    meter.bytes = max(meter.bytes, total)
    meter.report(finished=True)
    return path


def check_disk_space(what: str, needed: int, folder: Path) -> None:
    """A one-line error before a download that cannot fit."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed * DISK_MARGIN > free:
        raise ConfigError(f"disk: {what} needs {gigabytes(needed)} GB in {folder}, only {gigabytes(free)} GB free "
                          "— free some space, or point HF_HOME (or cache_dir) at a bigger disk")

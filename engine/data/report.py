"""What the data pipeline did: rows read and kept, drops by reason, truncation, token counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DatasetCounts:
    """Rows read, kept and dropped (by reason) for one data set."""

    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)


@dataclass
class DataReport:
    """Counts from loading, normalising and tokenizing; `warnings()` gives the one-liners to show."""

    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    truncated: int = 0
    tokens: int = 0  # trained (label != -100) tokens
    tokens_seen: int = 0  # every non-pad token
    lengths: list[int] = field(default_factory=list)
    per_dataset: dict[str, DatasetCounts] = field(default_factory=dict)
    packed_rows: int | None = None
    padding_share: float | None = None
    cutoff_len: int | None = None
    notes: list[str] = field(default_factory=list)
    eval: DataReport | None = None  # rows of eval_dataset, counted apart

    def count_read(self, dataset: str, n: int = 1) -> None:
        """Record `n` rows read from a data set."""
        self.rows_read += n
        self.per_dataset.setdefault(dataset, DatasetCounts()).read += n

    def keep(self, dataset: str, n: int = 1) -> None:
        """Record `n` rows kept."""
        self.rows_kept += n
        self.per_dataset.setdefault(dataset, DatasetCounts()).kept += n

    def drop(self, dataset: str, reason: str) -> None:
        """Record a row left out, with the reason (which names the column where there is one)."""
        self.dropped[reason] += 1
        self.per_dataset.setdefault(dataset, DatasetCounts()).dropped[reason] += 1

    def unkeep(self, dataset: str, reason: str) -> None:
        """Turn a kept row into a dropped one (found unusable while tokenizing)."""
        self.rows_kept -= 1
        self.per_dataset.setdefault(dataset, DatasetCounts()).kept -= 1
        self.drop(dataset, reason)

    def length_stats(self) -> dict[str, int]:
        """min, median, p95 and max tokenized length (before packing)."""
        if not self.lengths:
            return {}
        ordered = sorted(self.lengths)
        n = len(ordered)
        return {"min": ordered[0], "median": ordered[n // 2], "p95": ordered[min(n - 1, int(0.95 * n))],
                "max": ordered[-1]}

    def warnings(self) -> list[str]:
        """Human one-liners about rows dropped or truncated and anything else worth knowing."""
        out = []
        for name, counts in self.per_dataset.items():
            for reason, n in counts.dropped.most_common():
                out.append(f"{name}: {n} of {counts.read} rows left out: {reason}")
        if self.truncated:
            out.append(f"{self.truncated} of {self.rows_kept} rows were cut to cutoff_len={self.cutoff_len} tokens")
        out += self.notes
        if self.eval is not None:
            out += [f"eval: {line}" for line in self.eval.warnings()]
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no per-row data)."""
        return {
            "rows_read": self.rows_read, "rows_kept": self.rows_kept, "dropped": dict(self.dropped),
            "truncated": self.truncated, "cutoff_len": self.cutoff_len, "tokens": self.tokens,
            "tokens_seen": self.tokens_seen, "length_stats": self.length_stats(), "packed_rows": self.packed_rows,
            "padding_share": self.padding_share,
            "per_dataset": {name: {"read": c.read, "kept": c.kept, "dropped": dict(c.dropped)}
                            for name, c in self.per_dataset.items()},
            "warnings": self.warnings(),
            "eval": self.eval.to_dict() if self.eval is not None else None,
        }

"""Tokenized samples with the trained tokens highlighted, and the data set's length statistics."""

from __future__ import annotations

from typing import Any

from textual.markup import escape
from textual.widgets import Static

TRAINED = "b $text-success on $success-muted"


def segments_of(sample: Any) -> list[tuple[str, bool]]:
    """A sample's (text, trained) pieces from the `lmf-tui data --json` output."""
    if isinstance(sample, dict):
        pieces = sample.get("segments") or sample.get("tokens") or []
    else:
        pieces = sample or []
    out = []
    for piece in pieces:
        if isinstance(piece, dict):
            out.append((str(piece.get("text", "")), bool(piece.get("trained", piece.get("train", False)))))
        elif isinstance(piece, (list, tuple)) and len(piece) >= 2:
            out.append((str(piece[0]), bool(piece[1])))
    return out


def render_samples(data: dict[str, Any]) -> str:
    """Markup for each sample: its length, then its text with the trained part highlighted."""
    blocks = []
    for i, sample in enumerate(data.get("samples") or data.get("rows") or [], 1):
        head = f"[b]#{i}[/b]"
        if isinstance(sample, dict):
            if sample.get("length") is not None:
                head += f" · {sample['length']} tokens"
            if sample.get("trained_tokens") is not None:
                head += f" · {sample['trained_tokens']} trained"
            if sample.get("truncated"):
                head += " · [red]truncated[/]"
            if sample.get("dataset"):
                head += f" · {escape(str(sample['dataset']))}"
            if sample.get("error"):
                head += f"\n[red]{escape(str(sample['error']))}[/]"
        body = "".join(f"[{TRAINED}]{escape(text)}[/]" if trained else f"[dim]{escape(text)}[/]"
                       for text, trained in segments_of(sample))
        blocks.append(f"{head}\n{body}")
    return "\n\n".join(blocks) or "[dim]no samples[/]"


def render_stats(data: dict[str, Any]) -> str:
    """Token-length statistics and how many rows cutoff_len truncates, in a few lines."""
    stats = data.get("report") or data.get("stats") or data
    lines = []
    lengths = stats.get("length_stats") or {}
    if lengths:
        lines.append("tokens per row: " + " · ".join(f"{k} {v}" for k, v in lengths.items()))
    read, kept = stats.get("rows_read"), stats.get("rows_kept")
    if read is not None:
        lines.append(f"rows: {read} read, {kept} kept")
    if stats.get("truncated") is not None:
        cutoff = stats.get("cutoff_len")
        share = f" of {kept}" if kept else ""
        style = "yellow" if stats["truncated"] else "green"
        lines.append(f"[{style}]{stats['truncated']}{share} rows longer than cutoff_len {cutoff} are truncated[/]")
    if stats.get("tokens") is not None and stats.get("tokens_seen"):
        lines.append(f"trained tokens: {stats['tokens']} of {stats['tokens_seen']}")
    for reason, count in (stats.get("dropped") or {}).items():
        lines.append(f"[yellow]dropped {count} rows: {escape(str(reason))}[/]")
    for warning in stats.get("warnings") or []:
        lines.append(f"[yellow]{escape(str(warning))}[/]")
    return "\n".join(lines)


class SampleView(Static):
    """Shows one `lmf-tui data --json` result."""

    def show(self, data: dict[str, Any]) -> None:
        self.update(f"{render_stats(data)}\n\n{render_samples(data)}\n\n"
                    f"[dim]highlighted: tokens the loss is computed on[/]")

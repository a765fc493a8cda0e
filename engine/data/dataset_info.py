"""dataset_info.json as LLaMA-Factory reads it: named data sets, their files, format and columns.

Torch-free and `datasets`-free: the TUI imports this to list data sets.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.errors import ConfigError, Problem

if TYPE_CHECKING:
    from engine.config.schema import TrainConfig

INFO_FILE = "dataset_info.json"
FORMATTINGS = ("alpaca", "sharegpt", "openai")
FILE_TYPES = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
COMMON_COLUMNS = ("system", "tools", "images", "videos", "audios", "chosen", "rejected", "kto_tag")
ALPACA_COLUMNS = ("prompt", "query", "response", "history")
DEFAULT_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "messages": "conversations"}
TAG_NAMES = ("role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag")
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
               "observation_tag": "tool", "function_tag": "function", "system_tag": "system"}


@dataclass
class DatasetAttr:
    """One dataset_info.json entry, with LLaMA-Factory's defaults filled in."""

    name: str
    load_from: str  # "file" or "hf_hub"
    source: str  # file/folder path (absolute) or hub id
    formatting: str = "alpaca"
    ranking: bool = False
    subset: str | None = None
    split: str = "train"
    folder: str | None = None
    num_samples: int | None = None
    revision: str | None = None
    columns: dict[str, str | None] = field(default_factory=dict)
    explicit_columns: frozenset[str] = frozenset()
    tags: dict[str, str | None] = field(default_factory=dict)
    error: str = ""  # why the entry cannot be used; an error only when a config selects it

    def column(self, key: str) -> str | None:
        """The data column holding `key` (prompt, messages, chosen…), or None when unused."""
        return self.columns.get(key)

    @property
    def is_ranking(self) -> bool:
        """Pairs of chosen/rejected answers (reward modelling, DPO)."""
        return self.ranking

    @property
    def has_kto_tag(self) -> bool:
        """Rows carry a desirable/undesirable label (KTO)."""
        return bool(self.columns.get("kto_tag"))

    @property
    def usable(self) -> bool:
        """False for an entry that is broken or names a source lmf-tui cannot read."""
        return not self.error

    @property
    def status(self) -> str:
        """A short mark for lists: '' when the local file is there, 'hub', 'missing file' or 'unusable'."""
        if self.error:
            return "unusable"
        if self.load_from == "hf_hub":
            return "hub"
        return "" if Path(self.source).exists() else "missing file"

    @property
    def kind(self) -> str:
        """A short label for lists: ranking, kto, pretrain text or chat (sft)."""
        if self.error:
            return "?"
        if self.is_ranking:
            return "ranking"
        if self.has_kto_tag:
            return "kto"
        if self.formatting == "alpaca" and "prompt" in self.explicit_columns and not self.column("response"):
            return "text"
        return "sft"

    def fits_stage(self, stage: str) -> bool:
        """Whether this data set can train the given stage (rm/dpo: ranking; kto: kto_tag; pt: text)."""
        if self.error:
            return False
        if stage in ("rm", "dpo"):
            return self.is_ranking
        if stage == "kto":
            return self.has_kto_tag and not self.is_ranking
        if stage == "pt":
            return self.formatting == "alpaca" and not self.is_ranking and bool(self.column("prompt"))
        return not self.is_ranking

    @property
    def file_type(self) -> str | None:
        """The `datasets` loader for a local file or folder (json, csv, parquet, text)."""
        if self.load_from != "file":
            return None
        path = Path(self.source)
        files = data_files(path) if path.is_dir() else [path]
        return FILE_TYPES.get(files[0].suffix.lower()) if files else None


def data_files(path: Path) -> list[Path]:
    """The data files of a file_name: the file itself, or a folder's supported files in name order."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FILE_TYPES)


def read_dataset_info(dataset_dir: str | Path) -> dict[str, DatasetAttr]:
    """Every entry of `dataset_dir/dataset_info.json`, read leniently as LLaMA-Factory does.

    A broken or unsupported entry (ModelScope-only, script_url, bad columns…) comes back with its
    `error` set instead of failing the file: it is an error only when a config selects it. Raises a
    one-line ConfigError when the file itself is missing or not a JSON object.
    """
    path = Path(dataset_dir) / INFO_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem(("dataset_dir",), f"{path}: no such file",
                                  "set dataset_dir to the folder holding dataset_info.json")) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
                          " — fix the JSON syntax there") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected an object mapping data set names to entries"
                          " — see LLaMA-Factory's data/README.md")
    return {name: _lenient_entry(path, name, entry) for name, entry in raw.items()}


def _lenient_entry(path: Path, name: str, entry: Any) -> DatasetAttr:
    try:
        return _parse_entry(path, name, entry)
    except ConfigError as exc:
        source = ""
        if isinstance(entry, dict):
            source = str(next((entry[k] for k in ("file_name", "hf_hub_url", "ms_hub_url", "om_hub_url",
                                                  "script_url") if k in entry), ""))
        return DatasetAttr(name=name, load_from="invalid", source=source, error=str(exc))


def resolve_datasets(config: TrainConfig, which: str = "dataset") -> list[DatasetAttr]:
    """The entries named in `config.dataset` (or `eval_dataset`), checked to exist and fit the stage."""
    names = config.dataset_names(which)
    if not names:
        return []
    if config.dataset_dir == "ONLINE":
        return [DatasetAttr(name=n, load_from="hf_hub", source=n, columns=dict(DEFAULT_COLUMNS),
                            tags={}) for n in names]
    info = read_dataset_info(config.dataset_dir)
    out = []
    for name in names:
        if name not in info:
            close = difflib.get_close_matches(name, info.keys(), n=1, cutoff=0.5)
            fix = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(info)[:12]) or 'none'}"
            raise ConfigError(Problem((which,), f"'{name}' is not in {Path(config.dataset_dir) / INFO_FILE}", fix))
        attr = info[name]
        if attr.error:
            raise ConfigError(Problem((which,), attr.error))
        if attr.load_from == "file":
            _check_files(attr, which)
        if not attr.fits_stage(config.stage):
            raise ConfigError(Problem((which, "stage"), f"'{name}' ({attr.kind} data) cannot train stage "
                                      f"{config.stage}", _stage_fix(config.stage)))
        out.append(attr)
    return out


def _stage_fix(stage: str) -> str:
    if stage in ("rm", "dpo"):
        return "use a data set with \"ranking\": true and chosen/rejected columns"
    if stage == "kto":
        return "use a data set with a kto_tag column"
    if stage == "pt":
        return "use an alpaca-format data set with a text (prompt) column"
    return "use a data set without \"ranking\": true"


def _check_files(attr: DatasetAttr, which: str) -> None:
    path = Path(attr.source)
    if not path.exists():
        raise ConfigError(Problem((which,), f"'{attr.name}': file {path} does not exist",
                                  "put the file there or fix file_name in dataset_info.json"))
    files = data_files(path)
    if not files:
        raise ConfigError(Problem((which,), f"'{attr.name}': folder {path} holds no data files",
                                  f"add {', '.join(FILE_TYPES)} files"))
    kinds = {FILE_TYPES.get(f.suffix.lower()) for f in files}
    if None in kinds:
        raise ConfigError(Problem((which,), f"'{attr.name}': {files[0].name} is not a supported file type",
                                  f"use one of {', '.join(FILE_TYPES)}"))
    if len(kinds) > 1:
        mixed = ", ".join(sorted(kinds))
        raise ConfigError(Problem((which,), f"'{attr.name}': folder {path} mixes file types ({mixed})",
                                  "keep one file type per folder"))


def _parse_entry(path: Path, name: str, entry: Any) -> DatasetAttr:
    where = f"{path}: entry '{name}'"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} should be an object like {{\"file_name\": \"data.json\"}}")
    if "hf_hub_url" in entry:
        attr = DatasetAttr(name=name, load_from="hf_hub", source=str(entry["hf_hub_url"]),
                           revision=entry.get("revision"))
    elif "ms_hub_url" in entry or "om_hub_url" in entry:
        raise ConfigError(f"{where}: ModelScope/Modelers hub data sets are not supported — "
                          "add an hf_hub_url or download the file and set file_name")
    elif "script_url" in entry:
        raise ConfigError(f"{where}: script_url data sets are not supported — convert it to a file and set file_name")
    elif "file_name" in entry:
        attr = DatasetAttr(name=name, load_from="file", source=str((path.parent / str(entry["file_name"])).resolve()))
    else:
        raise ConfigError(f"{where} needs file_name or hf_hub_url — add one")
    formatting = entry.get("formatting", "alpaca")
    if formatting not in FORMATTINGS:
        raise ConfigError(f"{where}: formatting '{formatting}' is unknown — use {', '.join(FORMATTINGS)}")
    attr.formatting = formatting
    attr.ranking = bool(entry.get("ranking", False))
    attr.subset = entry.get("subset")
    attr.split = entry.get("split", "train")
    attr.folder = entry.get("folder")
    num = entry.get("num_samples")
    if num is not None and (not isinstance(num, int) or num < 1):
        raise ConfigError(f"{where}: num_samples should be a positive whole number (got {num!r})")
    attr.num_samples = num
    attr.columns, attr.explicit_columns = _columns(where, formatting, entry.get("columns"))
    attr.tags = _tags(where, formatting, entry.get("tags"))
    return attr


def _columns(where: str, formatting: str, given: Any) -> tuple[dict[str, str | None], frozenset[str]]:
    names = COMMON_COLUMNS + (ALPACA_COLUMNS if formatting == "alpaca" else ("messages",))
    if given is None:  # no "columns": LLaMA-Factory's defaults
        cols = {k: DEFAULT_COLUMNS.get(k) for k in names}
        if formatting == "openai":
            cols["messages"] = "messages"
        return cols, frozenset()
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: columns should map names (prompt, response, messages…) to data columns")
    unknown = sorted(set(given) - set(COMMON_COLUMNS + ALPACA_COLUMNS + ("messages",)))
    if unknown:
        raise ConfigError(f"{where}: column key '{unknown[0]}' is unknown — use {', '.join(names)}")
    return {k: given.get(k) for k in names}, frozenset(k for k in names if given.get(k))


def _tags(where: str, formatting: str, given: Any) -> dict[str, str | None]:
    if formatting == "alpaca":
        return {}
    defaults = OPENAI_TAGS if formatting == "openai" else SHAREGPT_TAGS
    if given is None:
        return dict(defaults)
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: tags should map role_tag, content_tag, user_tag… to the data's values")
    unknown = sorted(set(given) - set(TAG_NAMES))
    if unknown:
        raise ConfigError(f"{where}: tag '{unknown[0]}' is unknown — use {', '.join(TAG_NAMES)}")
    # As in LLaMA-Factory: once "tags" is given, role_tag/content_tag keep their defaults, other tags are unset.
    tags = {k: given.get(k) for k in TAG_NAMES}
    for key in ("role_tag", "content_tag", "user_tag", "assistant_tag"):
        tags[key] = tags[key] or defaults[key]
    return tags

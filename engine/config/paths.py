"""Checks of the folders a training config names, against the file system (before anything loads)."""

from __future__ import annotations

from pathlib import Path

from .errors import Problem
from .schema import TrainConfig


def check_paths(c: TrainConfig) -> list[Problem]:
    """Folders that cannot work: a file where a folder belongs, or a run that would write over its inputs."""
    problems: list[Problem] = []
    data = Path(c.dataset_dir).expanduser()
    if data.is_file():
        problems.append(Problem(("dataset_dir",), f"{data} is a file, not a folder",
                                "set dataset_dir to the folder holding dataset_info.json"))
    if not c.output_dir:
        return problems
    out = Path(c.output_dir).expanduser().resolve()
    if out.is_file():
        problems.append(Problem(("output_dir",), f"{out} is a file", "choose a folder for the run"))
    model = Path(c.model_name_or_path or "").expanduser()
    if c.model_name_or_path and model.is_dir() and _same_or_inside(out, model.resolve()):
        problems.append(Problem(("output_dir", "model_name_or_path"), "the run would be written into the model's "
                                "folder and could overwrite the model", "choose an output_dir outside it"))
    if data.is_dir() and _same_or_inside(out, data.resolve()):
        problems.append(Problem(("output_dir", "dataset_dir"), "the run would be written inside the data folder",
                                "choose an output_dir outside dataset_dir"))
    return problems


def _same_or_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents

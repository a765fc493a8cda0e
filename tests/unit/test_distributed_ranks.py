"""What a rank decides alone: how many ranks wrote a checkpoint, and what resuming it with another count does."""

from __future__ import annotations

import pytest

from engine.config import ConfigError
from engine.train.distributed import checkpoint_world_size, resume_note


def checkpoint(tmp_path, ranks: int):
    path = tmp_path / f"checkpoint-{ranks}"
    path.mkdir()
    for name in (["rng_state.pth"] if ranks == 1 else [f"rng_state_{i}.pth" for i in range(ranks)]):
        (path / name).write_bytes(b"")
    return path


def test_the_rank_count_is_read_from_the_rng_states(tmp_path):
    assert [checkpoint_world_size(checkpoint(tmp_path, n)) for n in (1, 2, 4)] == [1, 2, 4]
    (tmp_path / "bare").mkdir()
    assert checkpoint_world_size(tmp_path / "bare") is None


def test_same_rank_count_resumes_silently_and_ddp_says_what_changes(tmp_path):
    two = checkpoint(tmp_path, 2)
    assert resume_note(str(two), 2, "ddp") is None and resume_note(str(two), 2, "zero3") is None
    note = resume_note(str(two), 4, "ddp")
    assert note.startswith("checkpoint-2 was written by 2 ranks, this run has 4: the model, optimizer and step resume")
    assert "global batch changes ×2" in note


def test_sharded_state_refuses_another_rank_count(tmp_path):
    with pytest.raises(ConfigError) as info:
        resume_note(str(checkpoint(tmp_path, 4)), 2, "zero3")
    assert str(info.value).startswith("NPROC_PER_NODE: checkpoint-4 was written by 4 ranks with sharded (zero3) state")
    assert "start it with 4 ranks" in str(info.value)

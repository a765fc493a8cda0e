"""Start a run on a saved host and record it locally (the run id the commands and the app use)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .records import RemoteRun, write_record
from .remote import SshHost
from .store import get_host

if TYPE_CHECKING:
    from engine.config import TrainConfig

SECRETS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")  # sent in the remote command's environment


def secret_env(config: "TrainConfig | None" = None) -> dict[str, str]:
    """Hub and tracker tokens set here, for the run there (stdin → environment; never a file or a log)."""
    found = {k: os.environ[k] for k in SECRETS if os.environ.get(k)}
    if config is not None:
        from engine.config import secret_env as config_secrets  # hf_hub_token travels as HF_TOKEN, never in a file

        found.update(config_secrets(config))
    return found


def start_remote(config: "TrainConfig", host_name: str) -> Path:
    """Ship the inputs, start the run detached on the host; the local record folder (its name is the run id)."""
    host = SshHost(get_host(host_name))
    path = host.start_run(config, env=secret_env(config))
    return write_record(RemoteRun(hosts=[host_name], path=path, local_paths=host.last_plan.local_paths))

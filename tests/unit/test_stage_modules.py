"""Every stage the schema accepts has a module with the two functions a run needs."""

import typing

from engine.config import TrainConfig
from engine.stages import stage_module


def test_every_stage_of_the_schema_has_a_module():
    for stage in typing.get_args(TrainConfig.model_fields["stage"].annotation):
        module = stage_module(stage)
        assert callable(module.load_data) and callable(module.build_trainer), stage

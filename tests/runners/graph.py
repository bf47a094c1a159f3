"""Helpers to read a translated pipeline (runner API proto) the way a runner receives it."""
from __future__ import annotations

from apache_beam.portability.api import beam_runner_api_pb2

STEP_PREFIX = "prepare_corpus/"


def prepare_steps(proto: beam_runner_api_pb2.Pipeline) -> set[str]:
    """The named steps of `PrepareCorpus` (one level below it), as the runner will show them."""
    return {t.unique_name for t in proto.components.transforms.values()
            if t.unique_name.startswith(STEP_PREFIX) and t.unique_name.count("/") == 1}


def leaf_environments(proto: beam_runner_api_pb2.Pipeline) -> set[str]:
    """Environment ids of the transforms that run user code (the primitives with an environment)."""
    return {t.environment_id for t in proto.components.transforms.values() if t.environment_id}


def docker_image(proto: beam_runner_api_pb2.Pipeline, environment_id: str) -> str:
    environment = proto.components.environments[environment_id]
    return beam_runner_api_pb2.DockerPayload.FromString(environment.payload).container_image


def staged_files(proto: beam_runner_api_pb2.Pipeline, environment_id: str) -> dict[str, str]:
    """Staged name -> local file of each artifact the workers receive."""
    staged = {}
    for dependency in proto.components.environments[environment_id].dependencies:
        name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dependency.role_payload).staged_name
        staged[name] = beam_runner_api_pb2.ArtifactFilePayload.FromString(dependency.type_payload).path
    return staged


def dangling_inputs(proto: beam_runner_api_pb2.Pipeline) -> set[str]:
    """PCollections consumed by some transform but produced by none: a broken graph."""
    produced = {pcoll for t in proto.components.transforms.values() for pcoll in t.outputs.values()}
    consumed = {pcoll for t in proto.components.transforms.values() for pcoll in t.inputs.values()}
    return consumed - produced

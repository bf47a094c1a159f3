"""The complete `prepare` pipeline translated for Dataflow, checked without submitting it.

Why Beam's `dry_run` (TestOptions): `DataflowRunner.run_pipeline` with it does everything a real
submission does up to the API call: Dataflow's transform overrides, the runner API proto with the
worker environment, artifact staging plan (the sdist build included) and the `Job` object, then
returns instead of calling the service. Translating the pipeline ourselves (`to_runner_api`) would
skip the Dataflow-specific rewriting, and a mocked API client would test the mock. The job's worker
pool is filled in by `apiclient.Environment`, the same class the real submission uses.
"""
from __future__ import annotations

import json
import sys
import tarfile

import apache_beam as beam
import pytest
from apache_beam.runners.dataflow.internal import apiclient

from pipeline.beam.prepare import PrepareRequest, build_prepare
from runners.dataflow import DataflowSettings, dataflow_options
from runners.local import local_options
from tests.runners import object_store
from tests.runners.conftest import CONFIG
from tests.runners.graph import dangling_inputs, docker_image, leaf_environments, prepare_steps, staged_files

IMAGE = "us-central1-docker.pkg.dev/erlangshen-test/beam/erlangshen-data:0.1.0"
SETTINGS = DataflowSettings(
    project="erlangshen-test", region="us-central1", temp_location="gs://erlangshen-test-bucket/tmp",
    job_name="prepare-wudao", machine_type="n2-standard-8", num_workers=10, max_workers=50,
    disk_size_gb=30, service_account="prepare@erlangshen-test.iam.gserviceaccount.com",
    network="data-net", subnetwork="regions/us-central1/subnetworks/data-subnet", use_public_ips=False,
    experiments=("enable_prime",), sdk_container_image=IMAGE, labels=("team=nlp",), dry_run=True,
)


def _build(options, small_corpus, output: str) -> beam.Pipeline:
    for name, data in small_corpus.items():
        object_store.put(f"memstore://corpus/{name}", data)
    pipeline = beam.Pipeline(options=options)
    build_prepare(pipeline, PrepareRequest(["memstore://corpus/*.json"], output, CONFIG))
    return pipeline


@pytest.fixture(scope="module")
def dry_run_job(small_corpus) -> apiclient.Job:
    result = _build(dataflow_options(SETTINGS), small_corpus, "memstore://dataflow-out").run()
    assert result.state == "DONE"  # what a dry run reports; nothing was submitted
    return result.job


def test_dataflow_job_holds_every_step_of_prepare_corpus(dry_run_job, small_corpus):
    local = _build(local_options(1), small_corpus, "memstore://local-out").to_runner_api()
    assert prepare_steps(dry_run_job.proto_pipeline) == prepare_steps(local)
    assert {"prepare_corpus/clean_files", "prepare_corpus/find_duplicates", "prepare_corpus/build_shards",
            "prepare_corpus/publish"} <= prepare_steps(local)
    assert not dangling_inputs(dry_run_job.proto_pipeline)


def test_every_step_runs_in_the_custom_sdk_container(dry_run_job):
    proto = dry_run_job.proto_pipeline
    assert {docker_image(proto, env) for env in leaf_environments(proto)} == {IMAGE}
    # The image holds the package: nothing is built or staged for pip on the workers.
    staged = [staged_files(proto, env) for env in leaf_environments(proto)]
    assert not any(name.endswith(".tar.gz") for files in staged for name in files)


def test_worker_pool_request_carries_every_dataflow_setting(dry_run_job):
    environment = apiclient.Environment(
        packages=[], options=dry_run_job.options, environment_version="8",
        proto_pipeline_staged_url="gs://erlangshen-test-bucket/tmp/pipeline.pb",
        proto_pipeline=dry_run_job.proto_pipeline,
    )
    dry_run_job.proto.environment = environment.proto
    request = json.loads(dry_run_job.json())
    pool = request["environment"]["workerPools"][0]
    assert request["name"] == "prepare-wudao" and request["type"] == "JOB_TYPE_BATCH"
    assert request["labels"] == {"team": "nlp"}
    assert pool["machineType"] == "n2-standard-8"
    assert pool["numWorkers"] == 10 and pool["autoscalingSettings"]["maxNumWorkers"] == 50
    assert pool["diskSizeGb"] == 30
    assert pool["network"] == "data-net"
    assert pool["subnetwork"] == "regions/us-central1/subnetworks/data-subnet"
    assert pool["ipConfiguration"] == "WORKER_IP_PRIVATE"
    assert pool["workerHarnessContainerImage"] == IMAGE
    assert request["environment"]["serviceAccountEmail"] == SETTINGS.service_account
    assert "enable_prime" in request["environment"]["experiments"]
    assert request["environment"]["tempStoragePrefix"].startswith("storage.googleapis.com/erlangshen-test-bucket/tmp")


def test_without_an_image_the_project_is_shipped_as_an_sdist(small_corpus):
    settings = DataflowSettings(project=SETTINGS.project, region=SETTINGS.region,
                                temp_location=SETTINGS.temp_location, dry_run=True)
    job = _build(dataflow_options(settings), small_corpus, "memstore://sdist-out").run().job
    proto = job.proto_pipeline
    (environment,) = leaf_environments(proto)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert docker_image(proto, environment).endswith(f"beam_python{python}_sdk:{beam.__version__}")
    sdist = staged_files(proto, environment)["workflow.tar.gz"]  # Beam's name for the shipped sdist
    with tarfile.open(sdist) as archive:
        shipped = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pipeline/beam/stages.py", "runners/dataflow.py", "schemas/manifest.py", "pyproject.toml"} <= shipped

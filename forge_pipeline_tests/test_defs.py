"""The definitions load and hold the chain, its checks and the forge_full job.

Does not touch: any asset's execution.
"""

import subprocess
import sys

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from forge_pipeline.definitions import defs
from forge_pipeline.lib.core.config import PROJECT_ROOT
from forge_pipeline_tests.helpers import BESIDE_CHAIN, CHAIN


def test_definitions_hold_the_chain_and_the_plain_datasets():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {*CHAIN, *BESIDE_CHAIN}


def test_lineage_runs_vault_to_deployed_model():
    graph = defs.resolve_asset_graph()
    for upstream, downstream in zip(CHAIN, CHAIN[1:], strict=False):
        parents = {k.to_user_string() for k in graph.get(dg.AssetKey(downstream)).parent_keys}
        extra = {"dataset_examples"} if downstream == "curated_dataset" else set()
        assert parents == {upstream} | extra


def test_checks_are_declared_and_gate_the_chain():
    graph = defs.resolve_asset_graph()
    checks = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).blocking
        for key in graph.asset_check_keys
    }
    assert checks == {
        ("curated_dataset", "enough_examples"): True,
        ("curated_dataset", "train_val_disjoint"): True,
        ("curated_dataset", "no_pii_left"): True,
        ("curated_dataset", "schema_valid"): True,
        ("curated_dataset", "no_empty_turns"): True,
        ("curated_dataset", "no_duplicates_left"): True,
        ("lora_adapter", "tuned_beats_base"): True,
        ("gguf_model", "beats_deployed"): True,
        ("model_evaluation", "stops_when_done"): True,
        ("model_evaluation", "no_verbatim_recall"): True,
        ("model_evaluation", "no_pii_in_answers"): True,
    }


def test_forge_full_job_exists():
    assert defs.resolve_job_def("forge_full").name == "forge_full"


def test_dagster_cli_validates_definitions():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "forge_pipeline.definitions",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_one_training_at_a_time_through_a_pool_of_one():
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("lora_adapter")).pools == {"forge_training"}
    instance = InstanceRef.from_dir(str(PROJECT_ROOT))  # validates the project's dagster.yaml
    pools = instance.settings["concurrency"]["pools"]
    assert pools == {"granularity": "run", "default_limit": 1}

"""Every bad input of the table (bad_inputs.py) is refused with exit code 2, one `error:` line naming the field
or file (and line), and the output directory left byte-identical."""

from __future__ import annotations

import pytest

from .bad_inputs import CASES, Case, Env, expected, finished_run_args, run_case
from .reliability_harness import REPO, run_cli, tree_hash

STORIES = REPO.parent / "shared" / "models" / "stories260k"


@pytest.fixture(scope="module")
def env(assets, tmp_path_factory) -> Env:
    root = tmp_path_factory.mktemp("bad-inputs")
    env = Env(assets["model"], assets["other_model"], assets["data"], root / "run", root / "scratch", STORIES)
    env.scratch.mkdir()
    code, errors = run_case(Case("finished run", finished_run_args, ""), env)
    assert code == 0, errors
    assert (env.run / "summary.json").is_file()
    return env


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_cleanly(env: Env, case: Case) -> None:
    before = tree_hash(env.run)
    code, errors = run_case(case, env)
    assert code == 2, errors
    assert len(errors) == 1, errors
    assert expected(case, env).search(errors[0][len("error: "):]), errors[0]
    assert tree_hash(env.run) == before  # nothing written, replaced or deleted, even with --overwrite


def test_fresh_output_directory_is_not_created(env: Env) -> None:
    out = env.scratch / "fresh" / "run"
    case = next(c for c in CASES if c.name == "ragged row")
    argv = [*case.argv(env)]
    argv[argv.index("--out") + 1] = str(out)
    code, errors = run_case(Case("ragged row, new --out", lambda e: argv, case.expect), env)
    assert code == 2 and len(errors) == 1
    assert not out.exists() and not out.parent.exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ragged row", "unknown flag"])
def test_real_process_exit_code(env: Env, name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    before = tree_hash(env.run)
    result = run_cli(case.argv(env))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected(case, env).search(errors[0]), result.stderr
    assert "Traceback" not in result.stderr
    assert tree_hash(env.run) == before


def test_library_refuses_adapter_of_another_base_shape(assets, tmp_path) -> None:
    """HyperAdaLoraModel.from_pretrained on a base of another hidden size: a ValueError naming the file."""
    from transformers import AutoModelForSequenceClassification

    from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model

    config = HyperAdaLoraConfig(init_r=3, target_r=2, hypernet_hidden=16, hypernet_ffn=32, total_step=10,
                                modules_to_save=["classifier"])
    get_hyperadalora_model(AutoModelForSequenceClassification.from_pretrained(assets["model"]), config) \
        .save_pretrained(tmp_path / "adapter")
    other = AutoModelForSequenceClassification.from_pretrained(assets["other_model"])
    with pytest.raises(ValueError, match=r"adapter/hyperadalora_model\.safetensors: (tensor .* has shape|does not match)"):
        HyperAdaLoraModel.from_pretrained(other, tmp_path / "adapter")


UNSUPPORTED_MODES = [
    ({"ACCELERATE_USE_DEEPSPEED": "true"}, "hyperadalora", r"DeepSpeed \(any ZeRO stage\) is not supported; launch with DDP"),
    ({"ACCELERATE_USE_FSDP": "true"}, "hyperadalora", r"FSDP version 1 is not supported; use accelerate launch --use_fsdp "
                                                      r"--fsdp_version 2"),
    ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_OFFLOAD_PARAMS": "true"}, "hyperadalora",
     r"FSDP with CPU offload is not supported"),
    ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}, "adalora", r"FSDP is supported for method hyperadalora only"),
]


@pytest.mark.parametrize("launch, method, message", UNSUPPORTED_MODES, ids=["deepspeed", "fsdp1", "fsdp-offload",
                                                                           "fsdp-adalora"])
def test_unsupported_distributed_mode_is_refused_before_anything_is_written(env: Env, monkeypatch, launch, method,
                                                                            message) -> None:
    import re

    for key, value in launch.items():
        monkeypatch.setenv(key, value)
    before = tree_hash(env.run)
    argv = [*finished_run_args(env), "--overwrite", "--method", method]
    code, errors = run_case(Case("mode", lambda e: argv, message), env)
    assert code == 2 and len(errors) == 1, errors
    assert re.search(message, errors[0]), errors[0]
    assert tree_hash(env.run) == before

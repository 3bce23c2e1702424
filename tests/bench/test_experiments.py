"""The experiment files of `hyperadalora compare` (configs/experiments/*.yaml): each parses into a plan whose
every run is a valid TrainConfig on every task it names, and a broken file is refused with a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperadalora.bench.experiments import available, build_plan, default_config_dir, plan_from_file
from hyperadalora.errors import UserInputError
from hyperadalora.train import TrainConfig

REPO = Path(__file__).resolve().parents[2]
FILES = sorted((REPO / "configs" / "experiments").glob("*.yaml"))


def test_the_checkout_has_the_experiments_the_docs_name():
    assert default_config_dir() == REPO / "configs" / "experiments"
    assert {"nlu-convergence", "baselines", "nlg", "nlg-baselines", "gamma", "ablation"} <= set(available(
        default_config_dir()))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_experiment_file_parses_into_valid_runs_on_each_of_its_tasks(path):
    import yaml

    raw = yaml.safe_load(path.read_text())
    assert raw["experiment"] == path.stem
    for task in [t for t in (raw.get("tasks") or {}) if t != "default"] or [raw["task"]]:
        plan = plan_from_file(path, task=task)
        assert plan.baseline in {v.name for v in plan.variants}
        assert plan.common.get("lr_scheduler") == "linear"  # the headline schedule (issue #16)
        for v in plan.variants:
            TrainConfig.from_dict(plan.train_fields(v, 0, "/tmp/x"), source=f"{path.name}:{v.name}")
            if v.sweep.field != "lr":
                assert v.sweep.grid and hasattr(TrainConfig, v.sweep.field)


def test_the_package_names_no_data_path_of_this_repository():
    """Default data paths are recipe data: they live in configs/, not in the library."""
    src = REPO / "src" / "hyperadalora"
    offenders = [p for p in src.rglob("*.py") if "shared/data" in p.read_text()]
    assert offenders == []


@pytest.mark.parametrize(("edit", "message"), [
    ({"colour": 1}, r"unknown key 'colour'"),
    ({"baseline": "nope"}, r"'nope' \(baseline/floor\) is not one of the variants"),
    ({"controls": ["nope"]}, r"controls: expected a list of variant names"),
    ({"sweeps": {"lora": {"field": "loraplus_lr_ratio"}}}, r"sweeps.lora: a grid is required"),
])
def test_a_broken_experiment_file_is_refused_in_one_line(tmp_path, edit, message):
    import yaml

    raw = yaml.safe_load((REPO / "configs" / "experiments" / "nlg.yaml").read_text())
    raw.update(edit)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(UserInputError, match=message) as e:
        build_plan("ignored", config=path)
    assert "\n" not in str(e.value)

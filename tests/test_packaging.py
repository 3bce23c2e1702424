"""The project as users install it: a built wheel in a fresh virtual environment, run outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.train.train_fixtures import write_rte, write_tiny_bert

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


# Every (non-extra) requirement in the installed wheel's metadata is met in the fresh environment.
CHECK_REQUIREMENTS = """
from importlib.metadata import requires, version
from packaging.requirements import Requirement
bad = [str(r) for r in map(Requirement, requires("hyperadalora")) if not r.marker
       and not r.specifier.contains(version(r.name), prereleases=True)]
print(bad or "ok")
"""


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_built_wheel_installs_and_trains_outside_the_checkout(tmp_path: Path) -> None:
    built = _run([sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", REPO], cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("hyperadalora-*.whl"))
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", wheel], capture_output=True, text=True).stdout
    assert "hyperadalora/generation/gradient.py" in names and "LICENSE" in names
    assert "hyperadalora/warm_starts/glue-alpaca-r3.safetensors" in names  # package data: loaded by name

    # A fresh environment with the CPU torch and the other requirements of this one (a .pth path entry: the
    # directory is importable but its .pth files, such as the checkout's editable install, are not run).
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", venv], cwd=tmp_path).returncode == 0
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip())
    (site / "borrowed_requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([py, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    where = _run([py, "-c", "import hyperadalora; print(hyperadalora.__file__)"], cwd=tmp_path)
    assert str(site) in where.stdout, where.stdout + where.stderr  # the wheel's copy, not the checkout's
    shipped = _run([py, "-c", "from hyperadalora.warm_start import resolve; print(resolve('glue-alpaca-r3')[0].is_file())"],
                   cwd=tmp_path)
    assert shipped.stdout.strip() == "True", shipped.stdout + shipped.stderr
    check = _run([py, "-c", CHECK_REQUIREMENTS], cwd=tmp_path)
    assert check.returncode == 0 and check.stdout.strip() == "ok", check.stdout + check.stderr

    script = venv / "bin" / "hyperadalora"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYPERADALORA_MODELS_DIR")}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    version = _run([script, "--version"], cwd=tmp_path, env=env)
    assert version.stdout.strip().startswith("hyperadalora 0."), version.stdout + version.stderr
    model, data = write_tiny_bert(tmp_path / "bert"), write_rte(tmp_path / "RTE")
    run = _run([script, "train", "--task", "rte", "--data", data, "--model", model, "--out", tmp_path / "run",
                "--max-steps", "2", "--batch-size", "8", "--tinit", "0", "--tfinal", "0", "--no-progress"],
               cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "run" / "adapter" / "hyperadalora_model.safetensors").is_file()
    # a default that only resolves inside a checkout fails with a message saying what to pass
    alias = _run([script, "train", "--task", "instruct", "--data", data, "--model", "stories260k",
                  "--out", tmp_path / "run2"], cwd=tmp_path, env=env)
    assert alias.returncode == 2
    assert "error: model 'stories260k': no models directory; pass --models-dir" in alias.stderr, alias.stderr

"""Nothing from a user-supplied path can run code: checkpoints are read with torch.load(weights_only=True) only,
and a model's own code runs only with --trust-remote-code."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch

from hyperadalora.cli import main
from hyperadalora.train import checkpoint as ckpt

from .reliability_harness import REPO, train_args


def _cli(argv: list[str]) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.startswith("error: ")]


def test_every_torch_load_is_weights_only() -> None:
    """Static check of the package: no pickle.load(s), and every torch.load call passes weights_only=True."""
    for path in (REPO / "src" / "hyperadalora").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            assert func not in ("pickle.load", "pickle.loads", "dill.load", "cloudpickle.load"), f"{path}:{node.lineno}"
            if func == "torch.load":
                kw = {k.arg: k.value for k in node.keywords}
                assert "weights_only" in kw and ast.literal_eval(kw["weights_only"]) is True, \
                    f"{path}:{node.lineno}: torch.load without weights_only=True"


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.slow
def test_malicious_pickle_in_a_checkpoint_is_not_executed(reference: Path, assets, tmp_path: Path) -> None:
    """An optimizer.pt replaced by a pickle that would run code, with a manifest forged to match: --resume refuses
    it (exit 2, naming the checkpoint) and the code never runs."""
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    newest = ckpt.listed(run / "checkpoints")[0][1]
    marker = tmp_path / "pwned"
    torch.save({"state": _Payload(marker)}, newest / "optimizer.pt")
    manifest = json.loads((newest / "manifest.json").read_text())
    manifest["files"]["optimizer.pt"] = {"sha256": ckpt.sha256(newest / "optimizer.pt"),
                                         "bytes": (newest / "optimizer.pt").stat().st_size}
    (newest / "manifest.json").write_text(json.dumps(manifest))
    ckpt.verify(newest)  # the forgery passes the integrity check: only weights_only stands in the way
    code, errors = _cli(train_args(assets, run, "--save-every", "3", "--resume"))
    assert not marker.exists()
    assert code == 2, errors
    assert len(errors) == 1 and errors[0].startswith(f"error: {newest}: cannot resume from this checkpoint"), errors


def test_remote_code_needs_trust_remote_code(assets, tmp_path: Path) -> None:
    """A model directory whose config points at its own Python code (auto_map): without --trust-remote-code the
    code is never imported (transformers uses its built-in class for the model_type)."""
    model = tmp_path / "custom-model"
    shutil.copytree(assets["model"], model)
    marker = tmp_path / "custom-code-ran"
    (model / "modeling_custom.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n")
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "modeling_custom.CustomConfig",
                          "AutoModelForSequenceClassification": "modeling_custom.CustomModel"}
    (model / "config.json").write_text(json.dumps(config))
    args = train_args({"model": model, "data": assets["data"]}, tmp_path / "out", steps=2)
    code, errors = _cli([*args, "--tinit", "0", "--tfinal", "0"])
    assert code == 0, errors
    assert not marker.exists()

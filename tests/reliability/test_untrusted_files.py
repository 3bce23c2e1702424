"""Nothing from a user-supplied path can run code: checkpoints are read with torch.load(weights_only=True) only,
and a model's own code runs only with --trust-remote-code."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hyperadalora.cli import main
from hyperadalora.train import checkpoint as ckpt

from .reliability_harness import REPO, cli_env, train_args


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


# --- an adapter folder from anyone: its config is checked against the weights before anything is built ------
EDITS = {  # a field of hyperadalora_config.json set to a value that would allocate without bound, and the error
    "hypernet_hidden": (10_000_000, r"tensor hypernets\.P\.in_proj\.weight has shape \(16, 12\) but "
                                    r"hyperadalora_config\.json \(.*hypernet_hidden=10000000.*\) gives \(10000000, 12\)"),
    "hypernet_layers": (100_000, r"hyperadalora_config\.json says hypernet_layers=100000 but the weights' hypernetworks have 1;"),
    "init_r": (100_000, r"hyperadalora_config\.json says init_r=100000 but the weights have rank 3"),
}
# In a fresh process under an 8 GiB address-space limit: each edited folder is loaded and the error and the
# time the refusal took are printed (before the fix, hypernet_hidden failed allocating 1.2 PB and
# hypernet_layers built blocks until the limit).
_LOAD_UNDER_LIMIT = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
from hyperadalora import HyperAdaLoraModel
from tests.tiny_models import tiny_model
for folder in sys.argv[1:]:
    base = tiny_model("bert")[0]
    start = time.perf_counter()
    try:
        HyperAdaLoraModel.from_pretrained(base, folder)
        error = None
    except ValueError as e:
        error = str(e)
    print(json.dumps({"folder": folder, "error": error, "seconds": time.perf_counter() - start}))
"""


def _saved_adapter(path: Path) -> Path:
    from hyperadalora import HyperAdaLoraConfig, get_hyperadalora_model
    from tests.tiny_models import tiny_model

    base, saved = tiny_model("bert")
    get_hyperadalora_model(base, HyperAdaLoraConfig(init_r=3, target_r=2, hypernet_hidden=16, hypernet_ffn=32,
                                                    modules_to_save=saved)).save_pretrained(path)
    return path


def test_an_edited_config_is_refused_before_anything_is_allocated(tmp_path: Path) -> None:
    original = _saved_adapter(tmp_path / "adapter")
    folders = []
    for field, (value, _) in EDITS.items():
        folder = tmp_path / field
        shutil.copytree(original, folder)
        config = json.loads((folder / "hyperadalora_config.json").read_text())
        config[field] = value
        (folder / "hyperadalora_config.json").write_text(json.dumps(config))
        folders.append(folder)
    result = subprocess.run([sys.executable, "-c", _LOAD_UNDER_LIMIT, *map(str, folders)], cwd=REPO, env=cli_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    outcomes = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outcomes) == len(EDITS)
    for (field, (_, message)), outcome in zip(EDITS.items(), outcomes, strict=True):
        error = outcome["error"]
        assert error is not None and error.startswith(f"{tmp_path / field / 'hyperadalora_model.safetensors'}: "), error
        assert re.search(message, error) and "\n" not in error, error
        assert outcome["seconds"] < 2.0, outcome  # a header read and a meta-device build, nothing more


def test_a_forged_safetensors_header_is_refused_naming_the_file(tmp_path: Path) -> None:
    """The weights file's own header: a length field of 2^62 bytes, or a tensor whose shape claims more bytes than
    the file holds, is refused by the header read (no allocation of what it claims)."""
    from hyperadalora import HyperAdaLoraModel
    from tests.tiny_models import tiny_model

    header = json.dumps({"state.lam": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 4]}}).encode()
    forgeries = {"length": struct.pack("<Q", 1 << 62) + b"{}", "shape": struct.pack("<Q", len(header)) + header + bytes(4)}
    for name, content in forgeries.items():
        folder = shutil.copytree(_saved_adapter(tmp_path / "adapter"), tmp_path / name)
        (folder / "hyperadalora_model.safetensors").write_bytes(content)
        with pytest.raises(ValueError, match=rf"^{re.escape(str(folder))}/hyperadalora_model\.safetensors: "
                                             r"unreadable or corrupt safetensors file \(.*header.*\)$"):
            HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], folder)


@pytest.mark.parametrize("generation", ["gradient", "per_matrix", "increment", "literal"])
def test_every_rules_adapter_passes_the_check_before_build(generation: str, tmp_path: Path) -> None:
    """The check reads each rule's tensors from the header (a per-matrix adapter has no hypernetwork); a per-matrix
    adapter whose config is edited to a rule with 100,000-layer hypernetworks is refused, not built."""
    from hyperadalora import HyperAdaLoraConfig, HyperAdaLoraModel, get_hyperadalora_model
    from tests.tiny_models import tiny_model

    base, saved = tiny_model("bert")
    model = get_hyperadalora_model(base, HyperAdaLoraConfig(init_r=3, target_r=2, hypernet_hidden=16, hypernet_ffn=32,
                                                            generation=generation, modules_to_save=saved))
    model.save_pretrained(tmp_path)
    loaded = HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path).adapter_state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in model.adapter_state_dict().items())
    if generation == "per_matrix":
        config = json.loads((tmp_path / "hyperadalora_config.json").read_text())
        config.update(generation="gradient", hypernet_layers=100_000)
        (tmp_path / "hyperadalora_config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=r"does not match this model's adapters \(missing \['hypernets\."):
            HyperAdaLoraModel.from_pretrained(tiny_model("bert")[0], tmp_path)

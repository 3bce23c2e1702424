"""Run the real `hyperadalora` CLI with faults injected at exact points (a test-only wrapper).

    python tests/reliability/inject.py train ...        # or: torchrun --nproc_per_node 2 tests/reliability/inject.py train ...

`HYPERADALORA_FAULTS` holds `;`-separated faults; each patches one library function in this process only,
so the code under test is the library itself:

    kill_after_optimizer_step=N     SIGKILL right after the N-th optimizer step (before allocation, log, checkpoint)
    kill_in_checkpoint=N:FILE       SIGKILL once FILE of checkpoint N is written, before the manifest and rename
    kill_before_prune=N             SIGKILL after checkpoint N is renamed into place, before old ones are pruned
    kill_in_log=N                   SIGKILL halfway through writing step N's log line
    kill_in_adapter_save=1          SIGKILL while the final adapter directory is being written
    slow_step=SECONDS               sleep inside every optimizer step (so an external kill lands mid-step)
    slow_checkpoint=SECONDS         sleep after each checkpoint file is written (an external kill lands mid-write)
    nan_at=I,J,...                  the I-th, J-th, ... training forward passes return a NaN task loss
    enospc_at=N                     checkpoint N's first file write fails with ENOSPC (disk full)
    disk_free=BYTES                 shutil.disk_usage reports BYTES free
    step_hashes=DIR                 after every optimizer step, append {"step", "sha256"} of the adapter state
                                    (hypernetworks, committed state, masks, head) to DIR/rank<R>.jsonl; processes
                                    other than rank 0 also list in DIR/writes-rank<R>.txt every file they write
                                    under --out
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path


def _kill() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _faults() -> dict[str, str]:
    spec = os.environ.get("HYPERADALORA_FAULTS", "")
    return dict(item.split("=", 1) for item in spec.split(";") if item)


def _out_dir(argv: list[str]) -> Path | None:
    for i, a in enumerate(argv):
        if a == "--out" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if a.startswith("--out="):
            return Path(a.split("=", 1)[1]).resolve()
    return None


def install(faults: dict[str, str], argv: list[str]) -> None:
    import torch

    from hyperadalora.train import checkpoint as ckpt
    from hyperadalora.train import loop, methods, run, run_dir

    steps_done = [0]
    adamw_step = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        if "slow_step" in faults:
            time.sleep(float(faults["slow_step"]))
        result = adamw_step(self, *args, **kwargs)
        steps_done[0] += 1
        if steps_done[0] == int(faults.get("kill_after_optimizer_step", -1)):
            _kill()
        return result

    torch.optim.AdamW.step = step

    fsync_file = ckpt.fsync_file

    def fsync_checkpoint_file(path: Path) -> None:
        parent = path.parent.name
        if parent.startswith(".tmp-step-"):
            n = int(parent.split("-")[2])
            if "kill_in_checkpoint" in faults:
                at, name = faults["kill_in_checkpoint"].split(":")
                if n == int(at) and path.name == name:
                    _kill()
            if "enospc_at" in faults and n == int(faults["enospc_at"]):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            if "slow_checkpoint" in faults:
                time.sleep(float(faults["slow_checkpoint"]))
        fsync_file(path)

    ckpt.fsync_file = fsync_checkpoint_file

    prune = ckpt.prune

    def prune_or_kill(root: Path, keep: int) -> None:
        newest = ckpt.listed(root)[0][0] if ckpt.listed(root) else None
        if newest == int(faults.get("kill_before_prune", -1)):
            _kill()
        prune(root, keep)

    ckpt.prune = prune_or_kill

    write_log = run.Run.write_log

    def write_log_or_kill(self, records):
        at = int(faults.get("kill_in_log", -1))
        if self.main and any(r.get("kind") == "train" and r.get("step") == at for r in records):
            text = "".join(json.dumps(r) + "\n" for r in records)
            with open(self.out / run_dir.LOG_FILE, "a", encoding="utf-8") as f:
                f.write(text[: len(text) // 2])  # a line cut in the middle, as a kill during write() leaves it
                f.flush()
                os.fsync(f.fileno())
            _kill()
        write_log(self, records)

    run.Run.write_log = write_log_or_kill

    if "kill_in_adapter_save" in faults:
        save_adapter = methods.Method.save_adapter

        def save_adapter_and_kill(self, directory):
            save_adapter(self, directory)  # the loop's own tensor file is written, the rest is not
            _kill()

        methods.Method.save_adapter = save_adapter_and_kill

    if "nan_at" in faults:
        bad = {int(i) for i in faults["nan_at"].split(",")}
        calls = [0]
        task_loss = loop.task_loss

        def nan_task_loss(logits, labels, causal):
            loss = task_loss(logits, labels, causal)
            if torch.is_grad_enabled():  # training forwards only, not evaluation
                calls[0] += 1
                if calls[0] in bad:
                    return loss * float("nan")
            return loss

        loop.task_loss = nan_task_loss

    if "disk_free" in faults:
        free = int(faults["disk_free"])
        usage = shutil.disk_usage

        def small_disk(path):
            return usage(path)._replace(free=free)

        shutil.disk_usage = small_disk

    if "step_hashes" in faults:
        _install_hashes(Path(faults["step_hashes"]), _out_dir(argv), methods)


def _install_hashes(dest: Path, out: Path | None, methods) -> None:
    import torch

    dest.mkdir(parents=True, exist_ok=True)
    rank = int(os.environ.get("RANK", "0"))
    hashes = dest / f"rank{rank}.jsonl"
    originals = {cls: cls.__dict__["update_and_allocate"] for cls in methods.METHOD_CLASSES.values()
                 if "update_and_allocate" in cls.__dict__}

    def hashed(self, step, lr_scale=1.0, loss=None):
        original = next(originals[c] for c in type(self).__mro__ if c in originals)
        original(self, step, lr_scale, loss)
        h = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        with _real_open(hashes, "a") as f:
            f.write(json.dumps({"step": step, "sha256": h.hexdigest()}) + "\n")

    for cls in methods.METHOD_CLASSES.values():
        cls.update_and_allocate = hashed

    if rank == 0 or out is None:
        return
    writes = dest / f"writes-rank{rank}.txt"

    def note(path) -> None:
        try:
            p = Path(os.fspath(path)).resolve()
        except TypeError:
            return
        if p == out or out in p.parents:
            where = "".join(traceback.format_stack(limit=5)[:-2])  # who wrote: shown when the test fails
            with _real_open(writes, "a") as f:
                f.write(f"{p}\n{where}")

    def open_(file, mode="r", *args, **kwargs):
        # Opening a directory is tempfile's O_TMPFILE writability probe: an unnamed file, nothing lands on disk.
        if isinstance(file, str | os.PathLike) and any(c in mode for c in "wax+") and not os.path.isdir(file):
            note(file)
        return _real_open(file, mode, *args, **kwargs)

    builtins.open = io.open = open_
    for name in ("rename", "replace", "mkdir", "makedirs", "remove", "unlink", "rmdir"):
        original = getattr(os, name)

        def wrapped(path, *args, _original=original, **kwargs):
            note(path)
            return _original(path, *args, **kwargs)

        setattr(os, name, wrapped)
    import safetensors.torch

    save_file = safetensors.torch.save_file

    def save_file_noted(tensors, filename, *args, **kwargs):
        note(filename)
        return save_file(tensors, filename, *args, **kwargs)

    safetensors.torch.save_file = save_file_noted
    sys.modules["hyperadalora.train.run"].save_file = save_file_noted
    sys.modules["hyperadalora.train.methods"].save_file = save_file_noted


_real_open = builtins.open


def main() -> int:
    argv = sys.argv[1:]
    install(_faults(), argv)
    from hyperadalora.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""`hyperadalora train | eval | bench | compare`: a thin table from subcommands to plain functions.

The `train` flags are generated from TrainConfig's fields (type, default, help), so they cannot drift from the
code. `bench` and `compare` live in other modules, imported only when those subcommands run. Bad input prints
`error: <one line>` to stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import re
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import UserInputError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (and a suggestion for a mistyped flag), exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        if message.startswith("unrecognized arguments:"):
            subs = [p for a in self._actions if isinstance(a, argparse._SubParsersAction) for p in a.choices.values()]
            flags = [s for p in (self, *subs) for a in p._actions for s in a.option_strings]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], flags, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
                    break
        choice = re.search(r"invalid choice: '([^']*)'", message)
        if choice:
            close = difflib.get_close_matches(choice.group(1), list(COMMANDS), n=1)
            message += f" (did you mean {close[0]!r}?)" if close else ""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------ train flags
def _union(kinds: tuple[type, ...], optional: bool) -> Callable[[str], object]:
    """'none'/'null' -> None (if `optional`), 'true'/'false' -> a bool (if bool is one of `kinds`), else the text as
    the first of `kinds` that takes it (int before str)."""

    def convert(text: str) -> object:
        if text.lower() in ("none", "null") and optional:
            return None
        if bool in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
        for k in (k for k in kinds[:-1] if k is not bool):
            try:
                return k(text)
            except ValueError:
                pass
        return kinds[-1](text)

    convert.__name__ = kinds[0].__name__  # argparse names the type in its error message
    return convert


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (`--field-name`), plus `--config`; defaults live in TrainConfig only."""
    from .train.config import TrainConfig

    parser.add_argument("--config", metavar="FILE", help="YAML or JSON file of TrainConfig fields; flags given on the "
                                                         "command line override it.")
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        kinds = tuple(a for a in args if a is not type(None))
        kind = kinds[0] if kinds else hint
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_text = f.metadata["help"]
        if f.metadata.get("choices"):
            help_text += f" Choices: {', '.join(f.metadata['choices'])}."
        help_text += f" (default: {default})"
        flag = "--" + f.name.replace("_", "-")
        common = {"dest": f.name, "help": help_text, "default": argparse.SUPPRESS}
        if kind is bool and len(kinds) <= 1:  # a plain bool (not bool | str)
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        elif typing.get_origin(kind) is list:
            parser.add_argument(flag, nargs="+", metavar="NAME", **common)
        else:
            convert = _union(kinds, optional) if optional or len(kinds) > 1 else kind
            parser.add_argument(flag, type=convert, metavar="|".join(k.__name__.upper() for k in kinds), **common)


def train_config_from_args(args: argparse.Namespace) -> object:
    """TrainConfig from `--config` (or, with `--resume`, the run's stored config) overridden by the flags given."""
    from .train.config import TrainConfig, read_config_file
    from .train.run_dir import CONFIG_FILE

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    flags = {k: v for k, v in vars(args).items() if k in names}
    values: dict = {}
    source = "command line"
    if args.config:
        values = read_config_file(args.config)
        source = args.config
    elif flags.get("resume") and flags.get("out") and (Path(flags["out"]) / CONFIG_FILE).is_file():
        stored = Path(flags["out"]) / CONFIG_FILE
        values = read_config_file(stored)
        values.pop("stop_after", None)  # where the earlier session stopped is not where this one should
        source = str(stored)
    values.update(flags)
    return TrainConfig.from_dict(values, source=source)


def run_train(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    from .train.loop import train

    cfg = train_config_from_args(args)
    summary = train(cfg)
    if not PartialState().is_main_process:  # under torchrun every process returns; one reports
        return 0
    if "stopped_at" in summary:
        print(f"stopped after step {summary['stopped_at']} of {summary['steps']}; continue with "
              f"`hyperadalora train --out {cfg.out} --resume`")
        return 0
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in summary["final_metrics"].items())
    print(f"{cfg.method} on {cfg.task}: {metrics} after {summary['steps']} steps "
          f"({summary['train_seconds']:.0f} s); run in {cfg.out}")
    return 0


# ------------------------------------------------------------------------------------ eval
def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, metavar="DIR", help="Run directory written by `hyperadalora train`.")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="Evaluate on this data instead of the run's own (same task and format).")


def run_eval(args: argparse.Namespace) -> int:
    from .train.evaluation import evaluate

    print(json.dumps(evaluate(args.run, data=args.data), indent=2))
    return 0


# ------------------------------------------------------------------------------------ the table
@dataclasses.dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[argparse.Namespace], int] | None = None
    module: str | None = None  # implemented elsewhere: module with add_arguments(parser) and run(args)


COMMANDS: dict[str, Command] = {
    "train": Command("Fine-tune a model with hyperadalora, adalora, lora or head-only.", add_train_arguments, run_train),
    "eval": Command("Dev metrics of a finished run.", add_eval_arguments, run_eval),
    "bench": Command("Step time and memory benchmark of the methods.", module="hyperadalora.bench.step"),
    "compare": Command("Convergence comparison of the methods: runs, plots and a report.",
                       module="hyperadalora.bench.compare"),
}


def _resolve(name: str, command: Command) -> Command:
    if command.module is None:
        return command
    import importlib

    try:
        module = importlib.import_module(command.module)
        return Command(command.help, module.add_arguments, module.run)
    except (ImportError, AttributeError) as e:
        raise RuntimeError(f"the '{name}' subcommand is unavailable: cannot load {command.module} ({e})") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hyperadalora` script and `python -m hyperadalora`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from ._version import __version__

    parser = _Parser(prog="hyperadalora", description="HyperAdaLoRA: training, evaluation and benchmarks.")
    parser.add_argument("--version", action="version", version=f"hyperadalora {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    try:
        for name, command in COMMANDS.items():
            p = sub.add_parser(name, help=command.help, description=command.help)
            if name == chosen:  # only the subcommand that runs is built (bench/compare import lazily)
                command = _resolve(name, command)
                command.add_arguments(p)
                p.set_defaults(_run=command.run)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    try:
        return args._run(args)
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up during a write: earlier checkpoints are intact
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``jaxrl train | eval | plot | envs``: parse, build a config, call a loop.

Every config field is a flag (``learning_rate`` -> ``--learning-rate``); flags the user
gives override the env's preset. The CLI is argparse generated from the config
dataclasses: no extra dependency, and its usage errors are one line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import signal
import sys
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym

from jaxrl import __version__, distributed
from jaxrl.agents.registry import ALGORITHMS, get_algorithm, load_plugins
from jaxrl.cli.envs import add_envs_parser, list_envs
from jaxrl.cli.flags import add_config_flags, add_scale_flags, env_in
from jaxrl.cli.runs import evaluate_command, plot_command
from jaxrl.core.compile_cache import use_compilation_cache
from jaxrl.envs.device import NotAJaxEnv
from jaxrl.envs.suites import is_jax_suite_id
from jaxrl.io.metrics import METRICS_FILE, read_metrics
from jaxrl.io.run_dir import next_free_run_dir
from jaxrl.io.run_summary import after_run_lines


def usage_error(prog: str, message: str) -> typing.NoReturn:
    """Exit 2 with ``prog: error: message (see: prog --help)`` as one line on stderr (control
    characters of a stray token, such as a newline, printed escaped)."""
    printable = "".join(char if char.isprintable() else repr(char)[1:-1] for char in message)
    sys.stderr.write(f"{prog}: error: {printable} (see: {prog} --help)\n")
    sys.exit(2)


NEGATIVE_NUMBER = re.compile(r"^-((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity)$", re.IGNORECASE)


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (exit code 2): the problem and
    where the help is, without argparse's usage block in front. Its subcommands' parsers are the same."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a negative number in any float spelling is a value (``--target-return -1e4``), where argparse
        # before Python 3.13 takes ``-1e4`` and ``-inf`` for flags
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str) -> typing.NoReturn:
        usage_error(self.prog, message)

    def parse_args(self, args: list[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse's, but a flag no parser knows is reported by the subcommand it was given to
        (``jaxrl train ppo: error: unrecognized arguments: --bogus``), whose ``--help`` lists the flags."""
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            words = [getattr(parsed, name, None) for name in ("command", "algorithm")]
            usage_error(" ".join([self.prog, *(word for word in words if word)]),
                        f"unrecognized arguments: {' '.join(unknown)}")
        return parsed


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI; ``argv`` (when given) lets each algorithm's help show the preset of its ``--env``."""
    parser = OneLineErrorParser(prog="jaxrl", description="Train and evaluate RL agents in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxrl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an agent")
    algorithms = train.add_subparsers(dest="algorithm", required=True)
    for name, algorithm in ALGORITHMS.items():
        sub = algorithms.add_parser(name, help=f"train {name.upper()}")
        sub.add_argument("--run-dir", type=Path, default=None,
                         help="output directory (default: runs/<env>__<algo>__<seed>, or the first free __2, __3, ...)")
        sub.add_argument("--overwrite", action="store_true",
                         help="replace the run already in --run-dir (its config, metrics and checkpoints are deleted)")
        sub.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                         help="continue the run in RUN_DIR from its latest complete checkpoint, with its saved "
                              "config, loop and seeds")
        sub.add_argument("--config", type=Path, default=None, metavar="FILE",
                         help="start from the config in FILE: a run's config.json (or its directory: rerun it, e.g. "
                              "with another --seed) or a JSON object of fields; the --env preset under it, flags "
                              "over it")
        add_scale_flags(sub)
        env = env_in(argv or []) or algorithm.config_cls().env
        add_config_flags(sub, algorithm.config_cls, algorithm.config_for(env))

    evaluate = commands.add_parser("eval", help="evaluate a run's latest checkpoint")
    evaluate.add_argument("run_dir", type=Path,
                          help="a run's directory (a device run of several seeds: all of them, or one seed's "
                               "RUN_DIR/seed_<s>; its best evaluated agent: RUN_DIR/best)")
    evaluate.add_argument("--episodes", type=int, default=10, help="fresh episodes to play (default: 10)")
    evaluate.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=None,
                          help="take the most likely (greedy) action (default: stochastic for PPO and on "
                               "Atari, where a greedy agent can wait forever for FIRE after a lost life, as RL Zoo "
                               "does; DQN and PQN then act with their final epsilon; deterministic otherwise)")
    evaluate.add_argument("--seed", type=int, default=0,
                          help="seeds the episodes' resets and, when acting stochastically, the sampled actions "
                               "(default: 0)")
    evaluate.add_argument("--video", type=Path, default=None, help="write the first episode as .gif or .mp4")
    evaluate.add_argument("--render", action="store_true",
                          help="show the episodes live in a window (render_mode='human'; needs a display)")

    # `jaxrl bench ...` is handed to jaxrl.bench.main before parsing; listed here for --help.
    commands.add_parser("bench", help="throughput matrix: env / act / train steps per second (see jaxrl bench -h)",
                        add_help=False)

    add_envs_parser(commands)

    plot = commands.add_parser("plot", help="write a learning-curve PNG of a run, or of several side by side")
    plot.add_argument("run_dir", type=Path, nargs="+",
                      help="a run's directory (its metrics.jsonl); several: their returns in one chart")
    plot.add_argument("--out", type=Path, default=None,
                      help="PNG path (default: RUN_DIR/learning_curve.png; several runs: comparison.png in the "
                           "first one's parent)")
    return parser


def _config_overrides(args: argparse.Namespace, config_cls: type) -> dict[str, Any]:
    """The config fields given as flags."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls) if hasattr(args, f.name)}


def _resumed_config(args: argparse.Namespace, config_cls: type) -> Any:
    """The saved config of ``--resume DIR``; flags that would change it are an error (naming them)."""
    from jaxrl.io.config_file import RESUME_MAY_CHANGE, config_from_dict, load_run_config, load_run_launch

    algorithm, values = load_run_config(args.resume)
    if algorithm != args.algorithm:
        raise ValueError(f"{args.resume} is a {algorithm} run; resume it with: jaxrl train {algorithm} "
                         f"--resume {args.resume}")
    overrides = _config_overrides(args, config_cls)
    changed = sorted(name for name in overrides if name not in (*RESUME_MAY_CHANGE, "total_timesteps"))
    if changed:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed)
        raise ValueError(f"--resume continues {args.resume} with its saved config (--total-timesteps may extend "
                         f"it); drop {flags}")
    if "total_timesteps" in overrides and overrides["total_timesteps"] != values.get("total_timesteps"):
        if not overrides["total_timesteps"] > values.get("total_timesteps", 0):
            raise ValueError(f"--total-timesteps {overrides['total_timesteps']} would shrink {args.resume}'s budget "
                             f"of {values.get('total_timesteps')}; --resume can only extend it")
        stopped = [r["stop_reason"] for r in read_metrics(args.resume) if "stop_reason" in r] \
            if (args.resume / METRICS_FILE).is_file() else []
        if stopped:
            raise ValueError(f"{args.resume} stopped ({stopped[0]}) before its budget, and a run stopped by a "
                             "stopping rule stays stopped: --total-timesteps cannot extend it")
        print(f"extending {args.resume} from {values['total_timesteps']:,} to {overrides['total_timesteps']:,} env "
              "steps: its schedules (learning rate, exploration) now run over the new total", file=sys.stderr)
        values["total_timesteps"] = overrides["total_timesteps"]
    if args.overwrite:
        raise ValueError("--resume continues the run in its directory; --overwrite would delete it: drop one")
    if args.run_dir is not None and args.run_dir.resolve() != args.resume.resolve():
        raise ValueError("--run-dir and --resume name different directories; --resume writes into its own")
    launch = load_run_launch(args.resume)
    for flag, given, saved in (("--loop", args.loop, launch["loop"]), ("--num-seeds", args.num_seeds,
                                                                     launch["num_seeds"])):
        if given is not None and given != saved:
            raise ValueError(f"{args.resume} was run with {flag} {saved}; --resume cannot change it to {given}")
    args.loop, args.num_seeds = launch["loop"], launch["num_seeds"]
    values.update({name: getattr(args, name) for name in RESUME_MAY_CHANGE if hasattr(args, name)})
    return config_from_dict(config_cls, values).validate()


def config_and_run_dir(args: argparse.Namespace) -> tuple[Any, Path]:
    """The validated config and run directory that ``jaxrl train`` ``args`` ask for (``ValueError``
    naming the field otherwise); nothing is created or trained."""
    algorithm = get_algorithm(args.algorithm)
    if args.resume is not None:
        if args.config is not None:
            raise ValueError("--resume continues with the run's saved config; drop --config")
        return _resumed_config(args, algorithm.config_cls), args.resume
    from jaxrl.io.config_file import load_config_file

    from_file = load_config_file(args.config, args.algorithm, algorithm.config_cls) if args.config else {}
    overrides = {**from_file, **_config_overrides(args, algorithm.config_cls)}
    env = overrides.pop("env", algorithm.config_cls().env)
    config = algorithm.config_for(env, **overrides).validate()
    if args.run_dir is not None:
        return config, args.run_dir
    # A fresh run never writes into an earlier one: the default name takes the first free suffix.
    return config, next_free_run_dir(Path("runs") / f"{env.replace('/', '_')}__{args.algorithm}__{config.seed}")


def _train(args: argparse.Namespace) -> None:
    from jaxrl.api import train
    from jaxrl.loops.training_eval import last_evaluation

    config, run_dir = config_and_run_dir(args)
    args.loop = args.loop or ("device" if is_jax_suite_id(config.env) else "host")
    args.num_seeds = args.num_seeds or 1
    multi_process = distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    mesh = None
    if args.devices is not None or multi_process:
        mesh = distributed.env_mesh(args.devices)
    if args.sweep:
        _train_sweep(args, config, run_dir, mesh)
        return
    if args.loop == "device":
        _train_device(args, config, run_dir, mesh)
        return
    if args.num_seeds > 1:
        raise ValueError("--num-seeds > 1 needs --loop device (the host loop trains one seed per process)"
                         + ("" if is_jax_suite_id(config.env) else f"; {NotAJaxEnv(config.env).device_ids()}"))
    if getattr(args, "fresh_starts", None) == "rollout":  # a flag (SUPPRESS default); a preset's value is let be
        raise ValueError("--fresh-starts rollout needs --loop device (the host loop's envs reset themselves)")
    if multi_process:
        raise ValueError("multi-process runs need --loop device")
    result = train(args.algorithm, config, run_dir, resume=args.resume is not None, mesh=mesh,
                   overwrite=args.overwrite)
    finished_before = not result.history  # resumed a run that had already finished: say how it ended
    history = read_metrics(run_dir) if args.resume is not None else result.history  # the whole run's curve
    last = history[-1]
    if finished_before:
        print(nothing_to_train(run_dir, last.get("stop_reason")), file=sys.stderr)
    stopped = f" ({last['stop_reason']})" if "stop_reason" in last else ""
    if not finished_before:
        print(f"trained {last['env_steps']} env steps{stopped}; run dir: {run_dir}", file=sys.stderr)
    for line in after_run_lines(run_dir, last["env_steps"], [record["episodic_return"] for record in history],
                                [last["episodic_return"]], [config.seed], sys.stderr.encoding, args.algorithm, config.env):
        print(line, file=sys.stderr)
    print(json.dumps({"run_dir": str(run_dir), "env_steps": last["env_steps"],
                      "episodic_return": last["episodic_return"], "last_evaluation": last_evaluation(history)}))


def _train_device(args: argparse.Namespace, config: Any, run_dir: Path, mesh: Any) -> None:
    from jaxrl.api import run_device
    from jaxrl.loops.training_eval import last_evaluation

    result = run_device(args.algorithm, config, args.num_seeds, run_dir, mesh, resume=args.resume is not None,
                        overwrite=args.overwrite)
    if not distributed.writes_run_dir():  # process 0 wrote the run dir and says how the run went
        return
    summary = result.summary
    stopped = f" ({summary['stop_reason']})" if summary.get("stop_reason") else ""
    evaluations = f", +{summary['eval_s']:.1f} s evaluations" if summary["last_evaluation"] else ""
    history = read_metrics(run_dir) if args.resume is not None else result.history  # the whole run's curve
    if not result.history:  # resumed a run that had already finished: say how it ended
        print(nothing_to_train(run_dir, summary["stop_reason"]), file=sys.stderr)
    else:
        print(f"trained {args.num_seeds} seed(s) x {summary['env_steps_per_seed']} env steps{stopped} in "
              f"{summary['train_s']:.1f} s (+{summary['compile_s']:.1f} s compile{evaluations}, "
              f"{summary['aggregate_sps']:,.0f} steps/s); run dir: {run_dir}", file=sys.stderr)
    summary = {**summary, "last_evaluation": last_evaluation(history)}  # a finished run's: from its records
    curve = [record["episodic_return"] for record in history]  # the mean over seeds
    for line in after_run_lines(run_dir, summary["env_steps_per_seed"], curve, summary["final_episodic_return"],
                                summary["seeds"], sys.stderr.encoding, args.algorithm, config.env):
        print(line, file=sys.stderr)
    print(json.dumps({"run_dir": str(run_dir), **{k: summary[k] for k in (
        "env_steps_per_seed", "final_episodic_return", "mean_final_episodic_return", "aggregate_sps",
        "last_evaluation")}}))


def nothing_to_train(run_dir: Path, stop_reason: str | None) -> str:
    """What ``--resume`` of a run that had ended says: it went to its budget or met a stopping rule."""
    how = f"stopped: {stop_reason}" if stop_reason else "finished"
    return f"nothing to train: the run in {run_dir} had already {how}"


def _train_sweep(args: argparse.Namespace, config: Any, run_dir: Path, mesh: Any) -> None:
    from jaxrl.loops.sweep import checked_sweep_points, parse_sweep, run_sweep, sweep_table

    if args.loop != "device":
        raise ValueError("--sweep trains the grid in one compiled call of the device loop: add --loop device")
    if args.resume is not None or mesh is not None:
        raise ValueError("--sweep runs start fresh on one device (no --resume, --devices or multi-process)")
    sweep = parse_sweep(args.sweep)
    points = len(checked_sweep_points(config, args.algorithm, sweep))  # a bad sweep says so before this line
    if config.progress:  # one compiled call: there is no bar to show, so say what is happening
        print(f"compiling and running {points} point(s) x {args.num_seeds} seed(s) in one call ...", file=sys.stderr)
    result = run_sweep(args.algorithm, config, sweep, args.num_seeds, run_dir, overwrite=args.overwrite)
    runs = len(result.points) * args.num_seeds
    print(f"trained {len(result.points)} point(s) x {args.num_seeds} seed(s) = {runs} runs in {result.train_s:.1f} s "
          f"(+{result.compile_s:.1f} s compile); run dir: {run_dir}", file=sys.stderr)
    print(sweep_table(result.rows, list(sweep)), file=sys.stderr)
    print(json.dumps({"run_dir": str(run_dir), "points": [
        {**point, "iqm": row["iqm"], "mean": row["mean"]} for point, row in zip(result.points, result.rows)]}))


def check_word_order(argv: list[str]) -> None:
    """A flag where the command or the algorithm belongs is a usage error that says so (argparse
    would report the missing command, or call the flag's value an invalid algorithm)."""
    help_flags = ("-h", "--help", "--version")
    if argv and argv[0].startswith("-") and argv[0] not in help_flags:
        usage_error("jaxrl", f"unrecognized arguments: {argv[0]} (a command comes first: train, eval, plot, envs or bench)")
    if argv[:1] == ["train"] and len(argv) > 1 and argv[1].startswith("-") and argv[1] not in help_flags:
        usage_error("jaxrl train", f"name the algorithm before {argv[1]}: jaxrl train {{{','.join(ALGORITHMS)}}} "
                                   f"{argv[1]} ...")


ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     line: str | None = None) -> str:
    """A warning as one plain line (gymnasium's come coloured, each followed by its source line)."""
    text = " ".join(ANSI_COLOUR.sub("", str(message)).split())
    return f"jaxrl: warning: {text} ({category.__name__}, {Path(filename).name}:{lineno})\n"


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Every warning shown while the command runs is :func:`one_line_warning`'s line."""
    previous, warnings.formatwarning = warnings.formatwarning, one_line_warning
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from jaxrl import bench

        return bench.main(argv[1:])
    with one_line_warnings():
        load_plugins()  # installed packages' algorithms get their `jaxrl train <name>` too
    check_word_order(argv)
    args = build_parser(argv).parse_args(argv)
    use_compilation_cache()
    handlers = {"train": _train, "eval": evaluate_command, "plot": plot_command, "envs": list_envs}
    try:
        with one_line_warnings():
            handlers[args.command](args)
    except KeyboardInterrupt as interrupt:
        # TrainingInterrupted says what was saved and how to continue; a bare one saved nothing. The exit
        # status is the shell's for the signal (SIGTERM: 143), so a job script can tell it from a finished run.
        print(f"jaxrl: {str(interrupt) or 'interrupted; nothing saved'}", file=sys.stderr)
        return getattr(interrupt, "exit_code", 130)
    except BrokenPipeError:
        # The reader went away (`jaxrl envs | head`): stop quietly, as a tool killed by SIGPIPE would.
        # stdout goes to /dev/null first so that the interpreter's flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (ValueError, RuntimeError, FileNotFoundError, OSError, gym.error.Error) as err:
        # Every jaxrl error type derives from one of these (gymnasium's own for e.g. a missing
        # renderer); say it in one line.
        print(f"jaxrl: error: {err}", file=sys.stderr)
        return 1
    return 0


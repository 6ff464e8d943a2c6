"""The run recorder: every side effect of a training run, for the host and the device loop alike.

config.json, metrics.jsonl / timing.jsonl / TensorBoard, the progress bar, target-return and
patience stopping, checkpoints, resumption and the Ctrl-C message. A loop builds each metrics
record (one per update or per ``log_every`` env steps, ``unit`` says which) and hands it over;
the recorder decides whether the run should stop and writes everything.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.io.checkpoint import latest_for_resume, restore_state, save_checkpoint, save_sub_run
from jaxrl.io.config_file import check_resumable, config_to_dict, extend_saved_config, save_config
from jaxrl.io.metrics import MetricsWriter, Progress, truncate_metrics
from jaxrl.io.run_dir import acquire_lock, claim_for_fresh_run, release_lock
from jaxrl.loops.guards import StopRequest, TrainingInterrupted, signal_label
from jaxrl.loops.training_eval import Evaluator, evaluation_due, evaluation_fields, target_eval_reason


class Stopper:
    """Early stop on a target return or on ``patience`` records without a new best."""

    def __init__(self, target_return: float | None, patience: int | None):
        self.target_return, self.patience = target_return, patience
        self.best = -math.inf
        self.records_without_improvement = 0

    def reason(self, mean_return: float | None) -> str | None:
        """Why the run should stop after a record with this ``episodic_return`` (None: go on)."""
        if mean_return is None or math.isnan(mean_return):
            return None
        if self.target_return is not None and mean_return >= self.target_return:
            return f"target return {self.target_return} reached ({mean_return:.1f})"
        if mean_return > self.best:
            self.best, self.records_without_improvement = mean_return, 0
        else:
            self.records_without_improvement += 1
        if self.patience is not None and self.records_without_improvement >= self.patience:
            return f"no improvement for {self.patience} records (best {self.best:.1f})"
        return None


class Resumed(NamedTuple):
    """What a loop continues from (see :meth:`RunRecorder.resume`)."""

    tree: Any  # the saved pytree (host: the learner state; device: the whole carry), restored exactly
    meta: dict[str, Any]  # the checkpoint's meta (counters, key, loop-specific entries)
    extra: dict[str, Any]  # extra pytrees as state dicts (e.g. the host loop's replay buffer)
    path: Path  # the checkpoint it came from


def seeds_on_host(states: Any, indices: Iterable[int]) -> dict[int, Any]:
    """``{index: that seed's slice of states}`` for ``states`` with a leading seed axis, copied to the
    host once and sliced there: indexing device arrays compiles a program per leaf shape."""
    host = jax.tree.map(np.asarray, states)
    return {index: jax.tree.map(lambda leaf, i=index: leaf[i], host) for index in indices}


WRITE_SHARE = 0.02  # the most of a run's wall-clock that checkpoints on the clock may take


def clock_interval(checkpoint_seconds: float, last_write_s: float) -> float:
    """Seconds between checkpoints on the clock: ``checkpoint_seconds``, stretched to ``last_write_s /
    WRITE_SHARE`` where writing is slow (a full 1M-step Atari replay, 7 GB), so writes stay within 2% of the run."""
    return max(checkpoint_seconds, last_write_s / WRITE_SHARE)


class RunRecorder:
    """The side effects of one run. ``unit`` is "update" or "record"; ``loop`` "host" or "device".

    With ``run_dir=None`` nothing touches the disk; ``writes=False`` (the device loop's processes
    other than 0) reads a run dir for resumption but writes nothing. A writing recorder owns its
    directory from the start: it takes the directory's lock (one writer at a time) and a fresh run
    refuses a directory that holds another run unless ``overwrite`` (which removes that run's files).
    """

    def __init__(self, algorithm: str, config: Any, run_dir: str | Path | None, *, unit: str, loop: str,
                 total_steps: int, num_seeds: int = 1, resume: bool = False, writes: bool = True,
                 progress: bool = True, overwrite: bool = False, evaluator: Evaluator | None = None):
        self.algorithm, self.config, self.unit, self.loop = algorithm, config, unit, loop
        self.evaluator = evaluator  # plays the evaluations during training (config.eval_every)
        self.eval_s = 0.0  # wall-clock of those evaluations (compilation included)
        self.best_eval = [-math.inf] * num_seeds  # each seed's best evaluation so far (its agent kept: best_dirs)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.num_seeds, self.resuming = num_seeds, resume
        self.writes = writes and self.run_dir is not None
        if config.track:
            if self.run_dir is None:
                raise ValueError("--track needs a run dir (W&B's files and run id are kept in it)")
            from jaxrl.io.tracking import import_wandb

            import_wandb()  # before anything is created
        if resume and self.run_dir is None:
            raise ValueError("resume needs the run_dir of the run to continue")
        # a resumed run given a larger total_timesteps: the budget it had (config.json gets the new one)
        self.extended_from = check_resumable(self.run_dir, algorithm, config) if resume else None
        # a directory this run creates is removed again if the run ends having written nothing in it
        self.created_dir = self.writes and not self.run_dir.exists()
        self.lock = None
        if self.writes:
            try:
                self.lock = acquire_lock(self.run_dir) if resume else \
                    claim_for_fresh_run(self.run_dir, algorithm, overwrite)
            except Exception:
                self._release_dir()  # removes the directory if the failed claim created it
                raise
        self.stopper = Stopper(config.target_return, config.patience)
        self.progress = Progress(total_steps, config.progress and writes, bar=progress)
        self.history: list[dict[str, Any]] = []
        self.start_index = 0  # records done before this process (resumed runs)
        # why the run stopped before its budget (a stopping rule), saved with its checkpoints, so that a
        # resumed stopped run stays stopped (a requeued job resumes every run it holds)
        self.stop_reason: str | None = None
        self.start = time.perf_counter()
        self.last_checkpoint = self.start
        self.last_write_s = 0.0  # how long the last checkpoint took to write
        self.stop_request = StopRequest("the current piece of the program" if loop == "device" else
                                        "the current update" if unit == "update" else "the current env step")
        self.writer: MetricsWriter | None = None

    def open(self) -> None:
        """Write config.json (fresh runs) and start appending metrics (after :meth:`resume`)."""
        if not self.writes:
            return
        if not self.resuming:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.config, self.run_dir / "config.json", self.algorithm, loop=self.loop,
                        num_seeds=self.num_seeds)
        elif self.extended_from is not None and not self.stop_reason:  # a run stopped by a rule stays as it was
            extend_saved_config(self.run_dir, self.config, self.extended_from)
        config_dict, tracker = config_to_dict(self.config), None
        if self.config.track:
            from jaxrl.io.tracking import WandbTracker

            tracker = WandbTracker(self.run_dir, self.algorithm, self.config, config_dict)
        about = None if self.resuming else {"algorithm": self.algorithm, "loop": self.loop, "num_seeds": self.num_seeds,
                                            **config_dict}
        self.writer = MetricsWriter(self.run_dir, tracker, range(self.config.seed, self.config.seed + self.num_seeds),
                                    about)

    @property
    def last_index(self) -> int:
        """Records done so far, this process's and the resumed run's."""
        return self.start_index + len(self.history)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def record(self, record: dict[str, Any], state: Any = None) -> bool:
        """Log one metrics record (``{unit: index, "env_steps": ..., "episodic_return": ..., ...}``);
        True when the run should stop (the record then holds ``stop_reason``). ``state``: the train
        state(s) the record ends with, evaluated first where an evaluation is due after it."""
        if state is not None and self.evaluator is not None and evaluation_due(self.config, record[self.unit]):
            start = time.perf_counter()
            record.update(evaluation_fields(self.evaluator(state, record[self.unit])))
            self.eval_s += time.perf_counter() - start
            self._keep_best(state, record)
            self.progress.say(f"evaluation at {record['env_steps']:,} env steps: {record['eval_return']:.1f} "
                              f"+- {record['eval_return_std']:.1f} ({self.config.eval_episodes} deterministic "
                              "episodes)")
        stop_reason = self.stopper.reason(record.get("episodic_return")) or \
            target_eval_reason(self.config.target_eval_return, record)
        if stop_reason is not None:
            record["stop_reason"] = stop_reason
            self.stop_reason = self.stop_reason or stop_reason  # the first (a device piece goes on to its end)
        self.history.append(record)
        if self.writer is not None:
            self.writer.write(record)
        return stop_reason is not None

    def best_dirs(self) -> list[Path]:
        """Where each seed's best evaluated agent is kept (an evaluable run: ``jaxrl eval DIR``):
        ``best/`` of a host run, ``seed_<s>/best/`` of a device run."""
        if self.loop == "host":
            return [self.run_dir / "best"]
        return [self.run_dir / f"seed_{self.config.seed + index}" / "best" for index in range(self.num_seeds)]

    def _keep_best(self, state: Any, record: dict[str, Any]) -> None:
        """Save each seed's agent whose evaluation in ``record`` beats its best so far (SB3's
        ``best_model``); ``state`` has a leading seed axis in the device loop."""
        if not self.writes:
            return
        values, directories = record["eval_return_per_seed"], self.best_dirs()
        improved = [index for index, value in enumerate(values) if value > self.best_eval[index]]
        seed_states = {0: state} if self.loop == "host" else seeds_on_host(state, improved)
        for index in improved:
            self.best_eval[index] = values[index]
            seed_state = seed_states[index]
            config = dataclasses.replace(self.config, seed=self.config.seed + index)
            meta = {"env_steps": record["env_steps"], "loop": self.loop, "eval_return": values[index],
                    self.unit: record[self.unit]}
            save_sub_run(directories[index], self.algorithm, config, seed_state, meta, keep=1)

    def checkpoint(self, tree: Any, env_steps: int, extra: dict[str, Any] | None = None, **meta: Any) -> Path | None:
        """Save ``tree`` (+ ``extra`` pytrees) with the counters, the early-stopping state and ``meta``."""
        if not self.writes:
            return None
        meta = {"algorithm": self.algorithm, "loop": self.loop, "env_steps": env_steps, self.unit: self.last_index,
                "time_s": self.elapsed, "stopper": [self.stopper.best, self.stopper.records_without_improvement],
                "best_eval": [None if math.isinf(b) else b for b in self.best_eval], **meta}
        if self.stop_reason is not None:
            meta["stop_reason"] = self.stop_reason
        started = time.perf_counter()
        path = save_checkpoint(self.run_dir, tree, meta, keep=self.config.keep_checkpoints, extra=extra)
        self.last_checkpoint = time.perf_counter()
        self.last_write_s = self.last_checkpoint - started
        return path

    def resume(self, template: Any) -> Resumed:
        """Restore the latest complete checkpoint into ``template`` (a fresh tree for this config),
        restore the early-stopping state and the clock, and cut the metrics files back to it."""
        path, meta, state_dict, extra = latest_for_resume(self.run_dir, self.algorithm, self.loop, self.unit)
        tree = restore_state(template, state_dict, path)
        if "stopper" in meta:
            self.stopper.best, self.stopper.records_without_improvement = meta["stopper"]
        if "best_eval" in meta:
            self.best_eval = [-math.inf if b is None else b for b in meta["best_eval"]]
        self.start_index = int(meta[self.unit])
        self.stop_reason = meta.get("stop_reason")
        self.start -= float(meta.get("time_s", 0.0))
        if self.writes:
            truncate_metrics(self.run_dir, self.unit, self.start_index)
        return Resumed(tree, meta, extra, path)

    def interrupted(self, path: Path | None, env_steps: int) -> TrainingInterrupted:
        """The exception that ends a run stopped by a signal (Ctrl-C, SIGTERM), saying what was saved
        and how to go on."""
        signum = self.stop_request.signum
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal_label(signum)}"
        where = f"{how} after {env_steps} env steps ({self.unit} {self.last_index})"
        if path is None:
            return TrainingInterrupted(f"{where}; nothing saved (needs a run dir"
                                       f"{' and checkpoint_every > 0' if self.loop == 'device' else ''})", signum)
        loop_flag = " --loop device" if self.loop == "device" else ""
        return TrainingInterrupted(f"{where}; saved {path}; continue with: "
                                   f"jaxrl train {self.algorithm}{loop_flag} --resume {self.run_dir}", signum)

    def on_checkpoint_schedule(self) -> bool:
        """Whether the record just logged ends a ``checkpoint_every`` interval."""
        every = self.config.checkpoint_every
        return bool(every) and self.last_index % every == 0

    def periodic(self) -> bool:
        """Whether to checkpoint after the record just logged (host loops): it is on the
        ``checkpoint_every`` schedule, or the clock's interval (:func:`clock_interval`) has passed since
        the last checkpoint."""
        seconds = self.config.checkpoint_seconds
        overdue = seconds is not None and \
            time.perf_counter() - self.last_checkpoint >= clock_interval(seconds, self.last_write_s)
        return self.on_checkpoint_schedule() or overdue

    def close(self) -> None:
        self.progress.close()
        if self.writer is not None:
            self.writer.close()
        self._release_dir()

    def _release_dir(self) -> None:
        """Give the lock back; remove the directory if this run created it and left it empty."""
        release_lock(self.lock)
        if self.created_dir and self.run_dir.is_dir() and not any(self.run_dir.iterdir()):
            self.run_dir.rmdir()


def key_to_list(key: jax.Array) -> list[int]:
    """A PRNG key as JSON-ready ints (checkpoint meta)."""
    return np.asarray(key).tolist()


def key_from_list(values: list[int]) -> jax.Array:
    return jnp.asarray(np.asarray(values, np.uint32))

"""A device-loop run as the CLI drives it: compile, run in pieces, record, summarise.

``run_device`` vmaps the :class:`~jaxrl.loops.device.DeviceProgram` over seeds, compiles it
ahead of time, runs it in pieces of ``checkpoint_every`` iterations and hands every metrics
record and checkpoint to the same :class:`~jaxrl.loops.run.RunRecorder` the host loop uses.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl.agents.registry import Algorithm, get_algorithm
from jaxrl.config import SEED_LIMIT
from jaxrl.core.platform import run_once_compiler_options, seed_batched_lowering
from jaxrl.distributed import fetchable, writes_run_dir
from jaxrl.envs.device import make_device_env
from jaxrl.io.checkpoint import CheckpointError, save_sub_run
from jaxrl.io.files import writing
from jaxrl.io.metrics import METRICS_FILE, read_metrics
from jaxrl.loops.device import DeviceProgram, OffPolicyCarry, make_program, over_seeds
from jaxrl.loops.guards import check_finite_metrics
from jaxrl.loops.memory_budget import available_device_bytes, check_fits, tree_bytes
from jaxrl.loops.run import RunRecorder, seeds_on_host
from jaxrl.loops.schedules import segment_bounds
from jaxrl.loops.training_eval import device_evaluator, evaluation_due, evaluation_history


class DeviceRunResult(NamedTuple):
    """A device-loop run of one or more seeds, as the CLI reports it."""

    states: Any  # the final train states, leading axis [num_seeds]
    metrics: dict[str, np.ndarray]  # [num_seeds, num_updates or num_records] per name
    summary: dict[str, Any]  # per-seed and aggregate results (what results.json holds)
    history: list[dict[str, Any]]  # this process's metrics records (since a resume), as metrics.jsonl holds them

    def seed_state(self, index: int = 0) -> Any:
        """The final train state of the run's ``index``-th seed (``config.seed + index``)."""
        return jax.tree.map(lambda leaf: leaf[index], self.states)


def _compile(run_piece: Any, carry: Any, piece_length: int) -> Any:
    """``run_piece`` compiled for carries like ``carry`` (arrays or their shapes) and pieces of
    ``piece_length`` iterations."""
    return run_piece.lower(carry, jnp.arange(piece_length)).compile()


def _jit_piece(piece: Any, carry: Any = None, mesh: Mesh | None = None) -> Any:
    """``piece`` jitted, its carry donated. Over a mesh, given the placed ``carry``, the carry comes
    out placed as that one (the metrics replicated), so each piece takes the last one's carry: left
    to XLA, state a piece updates from env-split data came out split (PPO's per-env
    ``norm_reward`` returns, the off-policy replay's n-step windows) and the next call refused it."""
    if mesh is None:
        return jax.jit(piece, donate_argnums=0)
    placement = jax.tree.map(lambda leaf: leaf.sharding, carry)
    return jax.jit(piece, donate_argnums=0, out_shardings=(placement, NamedSharding(mesh, PartitionSpec())))


def seed_keys(seeds: np.ndarray) -> jax.Array:
    """The keys ``[len(seeds), 2]`` that device-loop runs of ``seeds [S]`` start from: ``PRNGKey(seed)`` each."""
    return jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))


def final_returns(episodic_return: np.ndarray) -> np.ndarray:
    """The last finite entry of each row of ``[num_seeds, num_points]`` (NaN: no episode ended)."""
    finite = np.isfinite(episodic_return)
    last = np.where(finite.any(axis=1), episodic_return.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1), 0)
    values = episodic_return[np.arange(len(episodic_return)), last]
    return np.where(finite.any(axis=1), values, np.nan)


def run_device(algorithm: str, config: Any, num_seeds: int = 1, run_dir: str | Path | None = None,
               mesh: Mesh | None = None, resume: bool = False, overwrite: bool = False) -> DeviceRunResult:
    """Train seeds ``config.seed ... config.seed + num_seeds - 1`` together with ``jit(vmap(...))``.

    Seed ``s`` gets ``PRNGKey(s)``, so each seed's result equals a one-seed run with
    ``seed=s``. With ``run_dir`` (written by process 0 only) the run leaves ``config.json``,
    ``metrics.jsonl`` (one record per update or log interval: the mean over seeds and each
    seed's ``episodic_return``), ``results.json`` and one evaluable sub-run per seed in
    ``seed_<s>/``.

    With a ``run_dir`` (or ``target_return`` / ``patience``) the run goes in pieces of
    ``checkpoint_every`` iterations; after each piece it saves its whole carry (train states,
    env states, keys, replay buffers, episode statistics) and checks the stopping rules, so
    ``target_return`` and ``patience`` stop it at the end of the piece in which they trigger.
    ``resume=True`` continues from the latest checkpoint and ends bit-identical to an
    uninterrupted run. A non-finite loss or parameter stops the run before the bad piece is
    saved; Ctrl-C stops it after the current piece, saved. A fresh run refuses a ``run_dir``
    that holds another run unless ``overwrite``.
    """
    if num_seeds < 1:
        raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
    if config.seed + num_seeds > SEED_LIMIT:
        raise ValueError(f"seeds {config.seed}..{config.seed + num_seeds - 1} pass 2**32 - 1, where PRNGKey seeds "
                         "alias smaller ones; lower --seed or --num-seeds")
    config.validate()
    stopping = config.target_return is not None or config.patience is not None
    if stopping and not config.checkpoint_every:
        raise ValueError("target_return and patience are checked after each piece of checkpoint_every iterations "
                         "in the device loop; set checkpoint_every > 0")
    entry = get_algorithm(algorithm)
    seeds = np.arange(config.seed, config.seed + num_seeds)
    program = make_program(algorithm, config, mesh)
    keys = seed_keys(seeds)
    init = jax.jit(over_seeds(program.init, num_seeds), compiler_options=run_once_compiler_options())
    shapes = jax.eval_shape(init, keys)  # traced once: the call below reuses the trace
    _check_device_memory(shapes, config, num_seeds)
    pieces = segment_bounds(program.num_iterations, piece_every(config, run_dir is not None or stopping))
    evaluator = device_evaluator(entry.agent_for(config), make_device_env(config.env), config, num_seeds) \
        if config.eval_every else None
    recorder = RunRecorder(algorithm, config, run_dir, unit=program.unit, loop="device",
                           total_steps=program.num_iterations * program.steps_per_iteration, num_seeds=num_seeds,
                           resume=resume, writes=writes_run_dir(), progress=len(pieces) > 1,
                           overwrite=overwrite, evaluator=evaluator)
    collected: list[dict[str, np.ndarray]] = []
    train_s = 0.0
    saved_results = recorder.run_dir / "results.json" if recorder.run_dir is not None else None
    # results.json is written when a run ends: resumed, such a run trains nothing and compiles no program
    ended = resume and saved_results.is_file()
    try:
        start = time.perf_counter()
        # Every piece runs padded to the longest one's length, so one program is compiled.
        piece_length = max(end - begin for begin, end in pieces)
        piece = over_seeds(program.run_padded, num_seeds)
        run_piece = _jit_piece(piece)
        if not ended:
            recorder.progress.say(f"compiling the training program ({num_seeds} seed(s) x {config.num_envs} envs) ...")
        with seed_batched_lowering(num_seeds > 1), ThreadPoolExecutor(2, "jaxrl-compile") as compiling:
            # One device: the training program and the evaluator compile from the carry's shapes, in
            # threads beside the init's compile and run. A sharded carry is placed by the init, so a
            # sharded run compiles after it (and its evaluator at the first evaluation).
            training = compiling.submit(_compile, run_piece, shapes, piece_length) \
                if mesh is None and not ended else None
            if evaluator is not None and mesh is None and not ended:
                compiling.submit(evaluator.compile_for, shapes.state)  # a failure: the first evaluation says it
            carry = init(keys)
            if resume:
                carry = _resumed_carry(recorder, carry, seeds)
            nothing_left = recorder.stop_reason or recorder.start_index >= program.num_iterations
            compiled = None if ended and nothing_left else training.result() if training else \
                _compile(_jit_piece(piece, carry, mesh), carry, piece_length)
        done = end = recorder.start_index
        compile_s = time.perf_counter() - start
        if compiled is not None:
            recorder.progress.say(f"compiled in {compile_s:.1f} s; training")
        recorder.open()
        with recorder.stop_request:
            # what is left: none where a resumed run had met a stopping rule
            for begin, end in [] if recorder.stop_reason else [(b, e) for b, e in pieces if e > done]:
                piece_start = time.perf_counter()
                carry, piece_metrics = jax.block_until_ready(compiled(carry, jnp.arange(begin, begin + piece_length)))
                train_s += time.perf_counter() - piece_start
                piece_metrics = {name: np.asarray(value)[:, : end - begin] for name, value in piece_metrics.items()}
                check_finite_pieces(piece_metrics, begin, program.unit, seeds, entry)
                collected.append(piece_metrics)
                stop, elapsed = False, recorder.elapsed
                for record in metric_records(piece_metrics, program.unit, begin):
                    # timing.jsonl: the piece's end time for each of its records (one compiled call)
                    record.update(time_s=elapsed, sps=record["env_steps"] * num_seeds / elapsed)
                    # pieces end on the evaluation schedule, so an evaluation is of the piece's last record
                    index = record[program.unit]
                    stop = recorder.record(record, evaluable_state(carry.state, index, end, evaluator, config)) or stop
                env_steps = end * program.steps_per_iteration
                interrupted = recorder.stop_request.agreed() and end < program.num_iterations
                # pieces may be shorter than checkpoint_every (evaluations): checkpoints keep their schedule
                due = recorder.on_checkpoint_schedule() or stop or interrupted or end == program.num_iterations
                saved = recorder.checkpoint(fetchable(carry), env_steps, seeds=seeds.tolist()) \
                    if config.checkpoint_every and due else None
                returns = piece_metrics["episodic_return"][:, -1]
                recorder.progress.advance(env_steps, (end - done) * program.steps_per_iteration * num_seeds / train_s,
                                          float(np.nanmean(returns)) if np.isfinite(returns).any() else None)
                if stop:
                    break
                if interrupted:
                    raise recorder.interrupted(saved, env_steps)
    finally:
        recorder.close()
    if not collected and ended:
        # a resumed run that had already finished: its results (returns, rates, evaluations) stand
        return DeviceRunResult(carry.state, {}, json.loads(saved_results.read_text()), recorder.history)
    if collected:
        metrics = {name: np.concatenate([m[name] for m in collected], axis=1) for name in collected[0]}
        returns = final_returns(metrics["episodic_return"])
    else:  # a resumed run that had already finished: nothing trained, its records say how it ended
        metrics, returns = {}, saved_final_returns(recorder.run_dir, len(seeds))
    summary = _summary(algorithm, config, seeds, returns, program, end, done, compile_s, train_s, mesh, resume)
    summary["stop_reason"] = recorder.stop_reason  # None: the run went to its end
    evaluations = evaluation_history(recorder.history)  # this process's (a resumed run: since the resume)
    summary.update(eval_s=recorder.eval_s, evaluations=evaluations, last_evaluation=(evaluations or [None])[-1])
    if recorder.writes:  # a run cut off after training and before writing results.json gets it now
        write_seed_runs(recorder.run_dir, algorithm, config, seeds, carry.state, summary)
    return DeviceRunResult(carry.state, metrics, summary, recorder.history)


def evaluable_state(states: Any, index: int, piece_end: int, evaluator: Any, config: Any) -> Any:
    """The train states the record ``index`` is evaluated with, where an evaluation is due after it
    (pieces end on the evaluation schedule: the piece's last record); None elsewhere. In a
    multi-process run every process gathers them whole (a collective at the same record in each) and
    evaluates them on its own device, so every process records the same returns and stopping decision."""
    if index != piece_end or evaluator is None or not evaluation_due(config, index):
        return None
    return fetchable(states)


def piece_every(config: Any, checkpointing: bool) -> int:
    """Iterations per compiled piece (0: the whole run in one call). A piece ends wherever the host
    has work: a checkpoint or a stopping check (every ``checkpoint_every``, when ``checkpointing``)
    or an evaluation (every ``eval_every``), so pieces are their greatest common divisor."""
    schedules = [every for every in (config.checkpoint_every if checkpointing else 0, config.eval_every) if every]
    return math.gcd(*schedules) if schedules else 0


def _check_device_memory(carry: Any, config: Any, num_seeds: int) -> None:
    """Refuse, before anything is allocated, a run whose carry (train states, env states, replay
    buffers; ``carry``: its shapes, leading axis [num_seeds]) and rollouts would not fit in the
    device's memory."""
    parts = {"train and env states (--num-envs, --num-seeds)": tree_bytes(carry)}
    if isinstance(carry, OffPolicyCarry):
        parts = {"replay buffers (--buffer-size x --num-seeds)": tree_bytes(carry.buffer),
                 "train and env states (--num-envs, --num-seeds)": tree_bytes(carry) - tree_bytes(carry.buffer)}
    else:  # a rollout of every env per update, and about twice that while update shuffles it
        per_step = tree_bytes((carry.actor.obs, carry.actor.obs)) // num_seeds
        parts["rollouts (--num-envs x --num-steps x --num-seeds)"] = 3 * per_step * config.num_steps * num_seeds
    check_fits(parts, available_device_bytes(), "device")


def _resumed_carry(recorder: RunRecorder, template: Any, seeds: np.ndarray) -> Any:
    """The carry of the latest checkpoint, placed like ``template`` (a fresh carry of this run)."""
    resumed = recorder.resume(template)
    if resumed.meta.get("seeds") != seeds.tolist():
        raise CheckpointError(f"checkpoint {resumed.path} holds seeds {resumed.meta.get('seeds')}, this run asks for "
                              f"{seeds.tolist()}")
    return jax.tree.map(lambda leaf, like: jax.device_put(leaf, like.sharding), resumed.tree, template)


def check_finite_pieces(metrics: dict[str, np.ndarray], begin: int, unit: str, seeds: np.ndarray,
                        algorithm: Algorithm) -> None:
    """Raise :class:`TrainingError` for the first (seed, iteration) with a non-finite learner value
    (records without an update, ``updates == 0``, have NaN losses by design)."""
    num_seeds, length = metrics["env_steps"].shape
    for index in range(length):
        for seed_index in range(num_seeds):
            if "updates" in metrics and metrics["updates"][seed_index, index] == 0:
                continue
            values = {name: float(column[seed_index, index]) for name, column in metrics.items()}
            check_finite_metrics(values, f"seed {seeds[seed_index]}, {unit} {begin + index + 1}",
                                 algorithm.finite_metrics, algorithm.nan_allowed)


def metric_records(metrics: dict[str, np.ndarray], unit: str, begin: int) -> list[dict[str, Any]]:
    """One metrics.jsonl record per iteration of ``metrics`` (``[num_seeds, n]`` per name): the mean
    over seeds (NaN where every seed's value is NaN), and each seed's return."""
    with warnings.catch_warnings():  # an all-NaN column's mean is NaN, which is what the record holds
        warnings.simplefilter("ignore", RuntimeWarning)
        means = {name: np.nanmean(values.astype(np.float64), axis=0).tolist()
                 for name, values in metrics.items() if name != "env_steps"}
    env_steps = metrics["env_steps"][0].tolist()
    returns = metrics["episodic_return"].T.tolist()
    return [{unit: begin + index + 1, "env_steps": int(env_steps[index]),
             **{name: column[index] for name, column in means.items()},
             "episodic_return_per_seed": [None if math.isnan(r) else r for r in returns[index]]}
            for index in range(len(env_steps))]


def saved_final_returns(run_dir: Path | None, num_seeds: int) -> np.ndarray:
    """Each seed's final ``episodic_return`` [num_seeds] as a run dir's ``metrics.jsonl`` holds it
    (NaN: none, or no run dir)."""
    records = read_metrics(run_dir) if run_dir is not None and (run_dir / METRICS_FILE).is_file() else []
    if not records:
        return np.full(num_seeds, np.nan)
    per_seed = [[np.nan if r is None else r for r in record["episodic_return_per_seed"]] for record in records]
    return final_returns(np.asarray(per_seed, np.float64).T)


def _summary(algorithm: str, config: Any, seeds: np.ndarray, returns: np.ndarray, program: DeviceProgram,
             end: int, done: int, compile_s: float, train_s: float, mesh: Mesh | None, resume: bool) -> dict[str, Any]:
    """What results.json holds: final returns per seed (``returns`` [num_seeds]) and their mean/std,
    timing, devices."""
    finite = np.isfinite(returns).any()
    return {
        "algorithm": algorithm, "env": config.env, "loop": "device", "seeds": seeds.tolist(),
        "final_episodic_return": [None if np.isnan(r) else float(r) for r in returns],
        "mean_final_episodic_return": float(np.nanmean(returns)) if finite else None,
        "std_final_episodic_return": float(np.nanstd(returns)) if finite else None,
        "env_steps_per_seed": end * program.steps_per_iteration, "compile_s": compile_s, "train_s": train_s,
        "aggregate_sps": (end - done) * program.steps_per_iteration * len(seeds) / max(train_s, 1e-9),
        "devices": 1 if mesh is None else mesh.size, "processes": jax.process_count(),
        "resumed_from_" + program.unit: done if resume else None,
    }


def write_seed_runs(run_dir: Path, algorithm: str, config: Any, seeds: np.ndarray, states: Any,
                     summary: dict[str, Any]) -> None:
    """An evaluable sub-run per seed (its config and final train state) and results.json."""
    seed_states = seeds_on_host(states, range(len(seeds)))
    for index, seed in enumerate(seeds):
        save_sub_run(run_dir / f"seed_{seed}", algorithm, dataclasses.replace(config, seed=int(seed)),
                     seed_states[index],
                     {"env_steps": summary["env_steps_per_seed"], "loop": "device"}, keep=config.keep_checkpoints)
    with writing(run_dir / "results.json"):
        (run_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")

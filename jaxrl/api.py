"""The public entry points: a thin layer that dispatches to the registry and the loops.

Everything here (and ``final_returns``, the last finite ``episodic_return`` of each seed's row of
metrics, and ``seed_batched_lowering``, to lower a ``vmap``ped ``make_train`` as ``run_device``
does) is re-exported by :mod:`jaxrl`; ``benchmarks/`` and ``jaxrl bench`` use these (and the
documented :mod:`jaxrl.loops.acting`), never loop internals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jax.sharding import Mesh

from jaxrl.agents.registry import OFF_POLICY, get_algorithm
from jaxrl.core.platform import seed_batched_lowering
from jaxrl.loops.device import Train
from jaxrl.loops.device import make_train as make_device_train
from jaxrl.loops.device_run import DeviceRunResult, final_returns
from jaxrl.loops.device_run import run_device as run_device_loop
from jaxrl.loops.evaluate import LoadedRun, load_run
from jaxrl.loops.evaluate import evaluate as play_episodes
from jaxrl.loops.host import TrainResult, train_on_policy
from jaxrl.loops.host_off_policy import train_off_policy
from jaxrl.types import Agent

__all__ = ["agent_for", "config_for", "evaluate", "final_returns", "load", "make_train", "run_device",
           "seed_batched_lowering", "train"]


def config_for(algorithm: str, env: str, **overrides: Any) -> Any:
    """The preset config of ``algorithm`` ("ppo", "ddpg", "td3", "sac") for ``env``, with overrides."""
    return get_algorithm(algorithm).config_for(env, **overrides)


def agent_for(algorithm: str, config: Any) -> Agent:
    """The :class:`~jaxrl.types.Agent` that runs ``config`` (PPO with ``policy="lstm"`` or ``"gru"``: the recurrent one)."""
    return get_algorithm(algorithm).agent_for(config)


def train(algorithm: str, config: Any, run_dir: str | Path | None = None, resume: bool = False,
          mesh: Mesh | None = None, overwrite: bool = False) -> TrainResult:
    """Train ``algorithm`` with the host loop (gymnasium vector envs); returns
    ``TrainResult(state, history, run_dir)``. ``resume=True`` continues the run in ``run_dir``
    from its latest checkpoint; a fresh run refuses a ``run_dir`` that holds another run unless
    ``overwrite``; ``mesh`` splits on-policy rollouts over devices."""
    entry = get_algorithm(algorithm)
    if entry.schedule == OFF_POLICY:
        if mesh is not None and mesh.size > 1:
            raise ValueError(f"{algorithm} in the host loop runs on one device; use --loop device to shard its envs")
        return train_off_policy(entry, config, run_dir, resume, overwrite)
    return train_on_policy(entry, config, run_dir, mesh, resume, overwrite)


def make_train(algorithm: str, config: Any, mesh: Mesh | None = None) -> Train:
    """The device loop's pure ``train(key, hparams=None) -> DeviceTrainResult`` for ``algorithm`` on a JAX
    env (``jax.jit(jax.vmap(train))(keys)`` trains one run per key); see :mod:`jaxrl.loops.device`."""
    return make_device_train(algorithm, config, mesh)


def run_device(algorithm: str, config: Any, num_seeds: int = 1, run_dir: str | Path | None = None,
               mesh: Mesh | None = None, resume: bool = False, overwrite: bool = False) -> DeviceRunResult:
    """A device-loop run of ``num_seeds`` seeds with a run dir, checkpoints and stopping, as
    ``jaxrl train --loop device`` does it; see :func:`jaxrl.loops.device_run.run_device`."""
    return run_device_loop(algorithm, config, num_seeds, run_dir, mesh, resume, overwrite)


def evaluate(algorithm: str, state: Any, episodes: int = 20, deterministic: bool = True, seed: int = 10_000) -> dict:
    """Mean/std of raw returns over ``episodes`` fresh episodes of ``state.config.env``."""
    agent = agent_for(algorithm, state.config)
    return play_episodes(agent, state, state.config.env, episodes, deterministic, seed).summary()


def load(run_dir: str | Path, checkpoint: str | Path | None = None) -> LoadedRun:
    """``LoadedRun(algorithm, config, state, checkpoint)`` of a run dir's latest checkpoint (or of
    ``checkpoint``, one of the files in its ``checkpoints/``)."""
    return load_run(run_dir, checkpoint)

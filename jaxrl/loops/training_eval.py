"""Deterministic evaluations during training: ``eval_every``, ``eval_episodes``, ``target_eval_return``
(on Atari the agent acts as it explores: :func:`~jaxrl.envs.atari.evaluated_stochastically`).

The training return (``episodic_return``) averages the last 20 episodes of the *exploring*
policy, played by several policies as it learned; what a user keeps is one checkpoint's
deterministic policy, which can score far from it (a CartPole run stopped at a training return
of 475 evaluated at 220). So every ``eval_every`` metrics records a loop plays ``eval_episodes``
fresh episodes with the agent's deterministic actions and adds the result to that record
(:func:`evaluation_fields`), and ``target_eval_return`` stops the run at the first evaluation
where every seed reaches it, with the evaluated agent saved.

Evaluation ``i`` (after metrics record ``i``) plays episodes seeded ``EVAL_SEED + i`` whatever
the run's seed, so the records stay reproducible, a resumed run evaluates as the uninterrupted
one did, and seed ``s`` of a vmapped run evaluates as a one-seed run of ``s``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from jaxrl.config import env_kwargs_of
from jaxrl.core.platform import matmul_precision, seed_batched_lowering
from jaxrl.envs.atari import evaluated_stochastically
from jaxrl.envs.device import DeviceEnv
from jaxrl.envs.host import HostVectorEnv, make_vector_env
from jaxrl.loops.acting import act_for_evaluation, initial_actor_input, jitted_exploring_step
from jaxrl.loops.device import over_seeds
from jaxrl.loops.evaluate import device_env_or_none
from jaxrl.loops.evaluate_device import episode_returns, require_all_ended
from jaxrl.types import Agent

EVAL_SEED = 1_000_000  # apart from training seeds (small) and `jaxrl eval`'s default (10,000)
MAX_EVAL_STEPS = 1_000_000  # per episode: as `jaxrl eval`, an env without a time limit may play long

# (the state(s) to evaluate, the metrics record index) -> raw returns [num_seeds, eval_episodes]
Evaluator = Callable[[Any, int], np.ndarray]


def evaluation_due(config: Any, index: int) -> bool:
    """Whether metrics record ``index`` (1-based) is followed by an evaluation."""
    return bool(config.eval_every) and index % config.eval_every == 0


def evaluation_fields(returns: np.ndarray) -> dict[str, Any]:
    """What an evaluation adds to its metrics record, from raw returns ``[num_seeds, episodes]``:
    ``eval_return`` (mean over seeds of each seed's mean), ``eval_return_std`` (mean over seeds of
    each seed's spread over its episodes) and ``eval_return_per_seed``."""
    returns = np.asarray(returns, np.float64)
    per_seed = returns.mean(axis=1)
    return {"eval_return": float(per_seed.mean()), "eval_return_std": float(returns.std(axis=1).mean()),
            "eval_return_per_seed": [float(r) for r in per_seed]}


def evaluation_history(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``env_steps`` and the evaluation fields of each of ``records`` that holds an evaluation."""
    keys = ("env_steps", "eval_return", "eval_return_std", "eval_return_per_seed")
    return [{key: record[key] for key in keys} for record in records if "eval_return" in record]


def last_evaluation(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last entry of :func:`evaluation_history` (None: no evaluation)."""
    history = evaluation_history(records)
    return history[-1] if history else None


def target_eval_reason(target: float | None, record: dict[str, Any]) -> str | None:
    """Why the run stops after ``record`` (None: go on): it holds an evaluation in which every
    seed's mean return reached ``target``."""
    per_seed = record.get("eval_return_per_seed")
    if target is None or per_seed is None or min(per_seed) < target:
        return None
    seeds = "every seed's " if len(per_seed) > 1 else ""
    return f"target evaluation return {target} reached ({seeds}evaluation mean >= {min(per_seed):.1f})"


def host_evaluator(agent: Agent, config: Any) -> Evaluator:
    """An :data:`Evaluator` of one train state on ``config.env``: a JAX env plays its episodes at
    once on the device (compiled once per run), any other one on a gymnasium vector env of
    ``eval_episodes`` envs (:func:`play_host_episodes`)."""
    device_env = device_env_or_none(config.env)
    if device_env is not None:
        on_device = device_evaluator(agent, device_env, config, num_seeds=1)
        return lambda state, index: on_device(jax.tree.map(lambda leaf: leaf[None], state), index)

    act = jax.jit(agent.act)
    explore = jitted_exploring_step(agent) if evaluated_stochastically(config.env) else None
    env_kwargs = env_kwargs_of(config)

    def evaluate_state(state: Any, index: int) -> np.ndarray:
        with matmul_precision(config.matmul_precision):
            return play_host_episodes(act, agent, state, config.env, config.eval_episodes, EVAL_SEED + index,
                                      env_kwargs, explore)[None]

    return evaluate_state


def play_host_episodes(act: Callable[..., Any], agent: Agent, state: Any, env_id: str, episodes: int,
                       seed: int, env_kwargs: dict[str, Any] | None = None,
                       explore: Callable[..., Any] | None = None) -> np.ndarray:
    """Raw returns ``[episodes]`` of one deterministic episode on each of ``episodes`` gymnasium envs
    stepped together (seeded ``seed, seed + 1, ...``), so each step is one call of ``act`` (the
    agent's jitted ``act``) for all of them; envs whose episode ended step on uncounted until the last
    one ends. One env after another (as ``jaxrl eval`` plays) took ~1.1 s for 10 CartPole episodes.
    ``env_kwargs``: the env constructor's arguments (the run's ``env_kwargs``). ``explore`` (a
    :func:`~jaxrl.loops.acting.jitted_exploring_step`): act as in training instead, noise drawn from ``seed``."""
    env = HostVectorEnv(make_vector_env(env_id, episodes, "sync", env_kwargs=env_kwargs))
    returns, finished = np.zeros(episodes), np.zeros(episodes, bool)
    try:
        actor_input = initial_actor_input(agent, state, env.reset(seed=seed))
        key = jax.random.PRNGKey(seed)
        for step_index in range(MAX_EVAL_STEPS):
            actions, actor_input = act_for_evaluation(act, explore, state, actor_input, key, step_index)
            step = env.step(np.asarray(actions))
            counting = step.valid & ~finished
            returns += np.where(counting, step.rewards, 0.0)
            finished |= counting & (step.terminated | step.truncated)
            if finished.all():
                break
            actor_input = actor_input._replace(obs=step.obs, episode_start=step.obs_is_reset)
    finally:
        env.close()
    require_all_ended(int(finished.sum()), episodes, MAX_EVAL_STEPS)
    return returns


class DeviceEvaluator:
    """An :data:`Evaluator` of train states with a leading seed axis ``[num_seeds, ...]``: every
    seed's episodes in one jitted call, compiled by :meth:`compile_for` or else at the first
    evaluation. ``run_device`` calls :meth:`compile_for` in a thread while its training program
    compiles."""

    def __init__(self, agent: Agent, env: DeviceEnv, config: Any, num_seeds: int):
        self._play = jax.jit(over_seeds(episode_returns(agent, env, config.eval_episodes, True, MAX_EVAL_STEPS),
                                        num_seeds))
        self._compiled: Callable[..., Any] | None = None
        self._precision, self._num_seeds = config.matmul_precision, num_seeds

    @contextlib.contextmanager
    def _lowering(self) -> Iterator[None]:
        """How the program is traced and lowered, ahead or at the first call alike."""
        with matmul_precision(self._precision), seed_batched_lowering(self._num_seeds > 1):
            yield

    def compile_for(self, states: Any) -> None:
        """Compile for train states shaped, typed and placed like ``states``; later evaluations
        must pass states placed alike (one device: always)."""
        with self._lowering():
            self._compiled = self._play.lower(states, jax.random.PRNGKey(0)).compile()

    def __call__(self, states: Any, index: int) -> np.ndarray:
        play = self._compiled or self._play
        with self._lowering():
            returns, _, finished = jax.device_get(play(states, jax.random.PRNGKey(EVAL_SEED + index)))
        require_all_ended(int(finished.sum()), finished.size, MAX_EVAL_STEPS, f"evaluation after record {index}: ")
        return np.asarray(returns)


def device_evaluator(agent: Agent, env: DeviceEnv, config: Any, num_seeds: int) -> DeviceEvaluator:
    """The :class:`DeviceEvaluator` of ``num_seeds`` seeds' train states on ``env``."""
    return DeviceEvaluator(agent, env, config, num_seeds)

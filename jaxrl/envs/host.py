"""Host-side gymnasium vector envs behind one interface.

gymnasium's vector envs autoreset in one of two ways, and this module is the only
place in jaxrl that knows it:

* SAME_STEP (``sync`` and ``async`` here): a step that ends an episode returns the
  reset observation and puts the true final observation in ``info["final_obs"]``.
* NEXT_STEP (most envs' own ``vector_entry_point``): the ending step returns the
  final observation; the *next* step ignores the action, resets, and returns a
  reward of 0. That step is not a real transition, so its ``valid`` flag is False.

Either way :meth:`HostVectorEnv.step` hands back the true next observation of every
step, so truncated episodes can bootstrap from it.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import signal
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from jaxrl.config import VECTORIZATION_MODES, env_kwargs_of, not_one_of
from jaxrl.envs import wrappers  # noqa: F401  (registers the jaxrl/* env ids)
from jaxrl.envs.atari import (
    ENVPOOL_PROTOCOL,
    atari_make_kwargs,
    envpool_channels_last,
    envpool_task,
    is_atari_id,
    quiet_atari_spec,
)
from jaxrl.envs.device import UNKNOWN_ID_ERRORS, register_host_id
from jaxrl.envs.spec import PRIVILEGED_SIZE_KEY, observation_to_array, spec_from_spaces, stack_observations
from jaxrl.types import EnvSpec

# gymnasium's env families whose packages one of jaxrl's extras installs (gymnasium's message names its own)
EXTRA_OF_ENTRY_POINT = {"gymnasium.envs.box2d": "box2d", "gymnasium.envs.mujoco": "mujoco"}


def extra_hint(env_id: str) -> str:
    """`` (or: pip install 'jaxrl[EXTRA]')`` for an id of a family in ``EXTRA_OF_ENTRY_POINT``, else ""."""
    try:
        entry_point = str(gym.spec(env_id).entry_point)
    except gym.error.Error:
        return ""
    extras = [extra for prefix, extra in EXTRA_OF_ENTRY_POINT.items() if entry_point.startswith(prefix + ".")]
    return f" (or: pip install 'jaxrl[{extras[0]}]')" if extras else ""


class EnvCreationError(ValueError):
    """The env id is unknown or the env could not be built."""


class EnvObservationError(ValueError):
    """An env returned an observation that does not fit its declared observation space."""


class NonFiniteEnvError(ValueError):
    """An env returned a NaN or infinite observation or reward."""


class EnvWorkerError(RuntimeError):
    """An async env worker raised, died or did not answer in time; the message names the env index.
    ``killed_by``: the signal that killed a dead worker (SIGTERM: a stop that reached the worker,
    SLURM signalling every process of a job), else None."""

    def __init__(self, message: str, killed_by: int | None = None) -> None:
        super().__init__(message)
        self.killed_by = killed_by


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def check_finite(what: str, values: np.ndarray) -> None:
    """Raise :class:`NonFiniteEnvError` naming the first env whose ``values [B, ...]`` hold NaN/inf."""
    if math.isfinite(float(np.sum(values))):  # fast path: one reduction, no temporary array
        return
    finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise NonFiniteEnvError(
            f"env {index} returned a non-finite {what}: {values[index]!r}; the env is broken or diverged "
            "(check_env_finite=False skips this check)")


class HostStep(NamedTuple):
    """One vector step, every array ``[B, ...]`` on the host."""

    obs: np.ndarray  # float32 observation to act on next (after any autoreset)
    rewards: np.ndarray  # float32
    terminated: np.ndarray  # bool
    truncated: np.ndarray  # bool
    next_obs: np.ndarray  # float32 true next observation of this step (final obs where an episode ended)
    valid: np.ndarray  # bool: False where the env ignored the action (NEXT_STEP reset step)
    obs_is_reset: np.ndarray  # bool: ``obs`` is the first observation of a new episode


def make_envpool_env(env_id: str, num_envs: int, seed: int | None,
                     env_kwargs: dict[str, Any] | None = None) -> gym.vector.VectorEnv:
    """envpool's C++ vector env (gymnasium API, NEXT_STEP autoreset; seeds fixed at creation). An ALE id
    plays envpool's game of that name under jaxrl's Atari protocol (:data:`~jaxrl.envs.atari.ENVPOOL_PROTOCOL`,
    frames channels last), so a run can switch between gymnasium's and envpool's vectorization."""
    try:
        import envpool
    except ModuleNotFoundError:
        raise EnvCreationError("vectorization='envpool' needs the envpool package: pip install 'jaxrl[envpool]'") \
            from None
    atari = is_atari_id(env_id)
    task, kwargs = (envpool_task(env_id), {**ENVPOOL_PROTOCOL, **(env_kwargs or {})}) if atari else (env_id, env_kwargs)
    if atari and kwargs["noop_max"] < 1:  # seen with envpool 1.2.5: the process dies at the first reset
        raise EnvCreationError(f"envpool's Atari envs crash with noop_max={kwargs['noop_max']}; give noop_max >= 1 "
                               "or use sync/async vectorization")
    try:
        with warnings.catch_warnings():  # envpool 1.2.5 declares float64 bounds for float32 boxes: harmless
            warnings.filterwarnings("ignore", ".*Box (low|high)'s precision lowered", UserWarning)
            env = envpool.make(task, env_type="gymnasium", num_envs=num_envs, seed=seed or 0, **(kwargs or {}))
    except (ValueError, KeyError, TypeError, AssertionError) as err:  # envpool asserts that it knows the id
        raise EnvCreationError(f"envpool could not create {task!r}: {err}") from None
    return envpool_channels_last(env) if atari else env


def _seeded_at_creation(env: Any) -> bool:
    """envpool envs take their seed in ``make`` and ignore (with a warning) ``reset(seed=...)``."""
    return any(cls.__name__ == "GymnasiumEnvPoolMixin" for cls in type(env.unwrapped).__mro__)


def ignore_interrupts(env: gym.Env) -> gym.Env:
    """Applied to each env inside its async worker process: the worker ignores SIGINT, because a
    Ctrl-C in a terminal reaches the whole process group and the parent owns shutdown (it saves a
    checkpoint, then closes the workers). SIGTERM still ends a worker: gymnasium and
    multiprocessing stop workers with it (a hung one too), and a stopping run saves the state of its
    last complete update or step when its workers die of it (:meth:`~jaxrl.loops.guards.StopRequest.explains`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return env


def make_vector_env(
    env_id: str,
    num_envs: int,
    vectorization: str = "sync",
    render_mode: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
) -> gym.vector.VectorEnv:
    """``gymnasium.make_vec`` with jaxrl's choices and readable errors.

    ``sync``/``async`` use SAME_STEP autoreset; ``async`` starts its workers with
    ``forkserver`` because forking a process that already runs JAX threads can deadlock, and its
    workers ignore Ctrl-C (:func:`ignore_interrupts`).
    ``envpool`` builds envpool's vector env (NEXT_STEP autoreset), seeded with ``seed`` here.
    """
    if vectorization not in VECTORIZATION_MODES:
        raise EnvCreationError(not_one_of("vectorization", vectorization, VECTORIZATION_MODES))
    if vectorization == "envpool":
        return make_envpool_env(env_id, num_envs, seed, env_kwargs)
    register_host_id(env_id)
    try:
        kwargs: dict[str, Any] = atari_make_kwargs(env_id)
    except ValueError as err:
        raise EnvCreationError(str(err)) from None
    if kwargs and vectorization == "vector_entry_point":
        raise EnvCreationError(f"{env_id!r}: vectorization='vector_entry_point' would skip jaxrl's Atari "
                               "preprocessing; use sync or async")
    if vectorization != "vector_entry_point":
        vector_kwargs: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}
        if vectorization == "async":
            vector_kwargs["context"] = "forkserver"
            kwargs["wrappers"] = [ignore_interrupts, *kwargs.get("wrappers", [])]
        kwargs["vector_kwargs"] = vector_kwargs
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        return gym.make_vec(quiet_atari_spec(env_id) if is_atari_id(env_id) else env_id, num_envs=num_envs,
                            vectorization_mode=vectorization, **kwargs, **(env_kwargs or {}))
    except gym.error.Error as err:
        if isinstance(err, UNKNOWN_ID_ERRORS):
            raise EnvCreationError(f"unknown environment id {env_id!r}: {err}") from None
        hint = extra_hint(env_id) if isinstance(err, gym.error.DependencyNotInstalled) else ""
        raise EnvCreationError(f"could not create {env_id!r} with vectorization={vectorization!r}: {err}{hint}") \
            from None
    except TypeError as err:
        if not env_kwargs:
            raise
        raise EnvCreationError(f"{env_id!r} does not take env_kwargs {sorted(env_kwargs)}: {err}") from None
    except ModuleNotFoundError as err:
        raise EnvCreationError(f"environment {env_id!r} needs a missing package: {err}") from None
    except ImportError as err:  # e.g. gymnasium's mujoco-py ids (Hopper-v2), which say where they moved
        raise EnvCreationError(f"environment {env_id!r} cannot be created here: {err}") from None


class HostVectorEnv:
    """A gymnasium vector env that speaks float32 arrays and reports true next observations.

    With an ``AsyncVectorEnv`` every reset and step waits at most ``step_timeout`` seconds
    (None: forever), and a worker that raises, dies or hangs becomes an
    :class:`EnvWorkerError` naming the env index, never a hang.
    """

    def __init__(self, env: gym.vector.VectorEnv, check_env_finite: bool = True, step_timeout: float | None = None):
        self.env = env
        self.check_env_finite = check_env_finite
        self.step_timeout = step_timeout
        self._async = isinstance(env, gym.vector.AsyncVectorEnv)
        self._seeded_at_creation = _seeded_at_creation(env)
        self._broken = False  # a worker failed: close without waiting for it
        if self._async and hasattr(env, "_raise_if_errors") and hasattr(env, "error_queue"):
            env._raise_if_errors = self._raise_worker_errors  # name the env index (gymnasium only logs it)
        self.num_envs = env.num_envs
        self._observation_space = env.single_observation_space
        self.spec: EnvSpec = dataclasses.replace(
            spec_from_spaces(env.single_observation_space, env.single_action_space),
            privileged_size=int(env.metadata.get(PRIVILEGED_SIZE_KEY, 0)))  # a JAX env's, see DeviceEnvAsGym
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self._same_step = mode in (AutoresetMode.SAME_STEP, "SameStep")
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP, "SameStep", "NextStep"):
            raise EnvCreationError(f"unsupported autoreset mode {mode!r}; jaxrl handles SAME_STEP and NEXT_STEP")
        self._reset_pending = np.zeros(self.num_envs, bool)  # NEXT_STEP: these envs reset on the next step
        # Sub-envs of a SyncVectorEnv check actions with Discrete.contains, which is several
        # times faster on Python ints than on NumPy scalars.
        self._actions_as_list = self.spec.action_shape == () and isinstance(env, gym.vector.SyncVectorEnv)
        if not self.spec.discrete:
            self._low = np.asarray(self.spec.action_low, np.float32)
            self._high = np.asarray(self.spec.action_high, np.float32)

    def _raise_worker_errors(self, successes: list[bool]) -> None:
        """Replaces ``AsyncVectorEnv._raise_if_errors``: same bookkeeping, an error naming the env."""
        if all(successes):
            return
        failures = []
        for _ in range(len(successes) - sum(successes)):
            index, exception_type, value, _trace = self.env.error_queue.get()
            self.env.parent_pipes[index].close()
            self.env.parent_pipes[index] = None
            failures.append((index, exception_type, value))
        self._broken = True
        self.env._state = type(self.env._state).DEFAULT
        index, exception_type, value = failures[0]
        others = f" (and envs {[i for i, _, _ in failures[1:]]})" if len(failures) > 1 else ""
        raise EnvWorkerError(f"env {index}{others} raised {exception_type.__name__}: {value}") from exception_type(value)

    def _dead_workers(self) -> tuple[str, int | None]:
        """The dead workers, each named with how it ended, and the signal that killed the first of them a
        signal killed (None where none was)."""
        found, killed_by = [], None
        for index, process in enumerate(self.env.processes):
            process.join(timeout=0.5 / len(self.env.processes))
            if not process.is_alive():  # so its exitcode is set: negative where a signal ended it
                found.append(f"env {index} ({_exit_description(process.exitcode)})")
                if killed_by is None and process.exitcode < 0:
                    killed_by = -process.exitcode
        return ", ".join(found) or "an env worker", killed_by

    def _wait(self, start: Callable[[], None], wait: Callable[..., Any], what: str) -> Any:
        """Run an async call with the timeout; worker death and silence become :class:`EnvWorkerError`."""
        try:
            start()  # sending to a dead worker fails here (ConnectionResetError, BrokenPipeError)
            return wait(timeout=self.step_timeout)
        except multiprocessing.TimeoutError:
            self._broken = True
            silent = [i for i, pipe in enumerate(self.env.parent_pipes) if pipe is not None and not pipe.poll()]
            raise EnvWorkerError(f"env {', '.join(map(str, silent)) or '?'} did not finish its {what} within "
                                 f"{self.step_timeout} s (env_step_timeout); the env hangs or is too slow") from None
        except (EOFError, ConnectionError) as err:
            self._broken = True
            dead, killed_by = self._dead_workers()
            raise EnvWorkerError(f"the worker process of {dead} died during {what} ({type(err).__name__})",
                                 killed_by) from None

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every env; returns float32 observations ``[B, *obs_shape]``."""
        if self._async:
            obs, _ = self._wait(lambda: self.env.reset_async(seed=seed), self.env.reset_wait, "reset")
        else:
            obs, _ = self.env.reset(seed=None if self._seeded_at_creation else seed)
        self._reset_pending[:] = False
        obs = observation_to_array(self._observation_space, obs)
        if self.check_env_finite:
            check_finite("reset observation", obs)
        return obs

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What the env receives: Box actions clipped to the bounds; discrete as int."""
        if self.spec.discrete:
            return np.asarray(actions, dtype=np.int64)
        return np.clip(np.asarray(actions, dtype=np.float32), self._low, self._high)

    def step(self, actions: np.ndarray) -> HostStep:
        """Step every env with agent ``actions`` (unclipped)."""
        env_actions = self.env_actions(actions)
        if self._actions_as_list:
            env_actions = env_actions.tolist()
        if self._async:
            raw_obs, rewards, terminated, truncated, info = self._wait(
                lambda: self.env.step_async(env_actions), self.env.step_wait, "step")
        else:
            try:
                raw_obs, rewards, terminated, truncated, info = self.env.step(env_actions)
            except ValueError as err:
                raise self._named_shape_error(err) from err
        obs = observation_to_array(self._observation_space, raw_obs)
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool)
        if self._same_step:
            valid = np.ones(self.num_envs, bool)
            obs_is_reset = terminated | truncated
            next_obs = obs
            ended = np.flatnonzero(obs_is_reset)
            if ended.size:
                next_obs = obs.copy()
                final = stack_observations(self._observation_space, [info["final_obs"][i] for i in ended])
                next_obs[ended] = observation_to_array(self._observation_space, final)
        else:
            valid = ~self._reset_pending
            obs_is_reset = ~valid
            next_obs = obs
            self._reset_pending = terminated | truncated
        rewards = np.asarray(rewards, np.float32)
        if self.check_env_finite:
            check_finite("reward", rewards)
            check_finite("observation", next_obs)
            if obs is not next_obs:
                check_finite("observation", obs)
        return HostStep(obs, rewards, terminated, truncated, next_obs, valid, obs_is_reset)

    def _named_shape_error(self, err: ValueError) -> Exception:
        """A sync env's observation that does not fit its space, named by env index and shapes
        (gymnasium only says "Output array is the wrong shape"); other errors pass through."""
        expected = self._observation_space.shape
        for index, obs in enumerate(getattr(self.env, "_env_obs", [])):
            if expected is not None and np.shape(obs) != tuple(expected):
                return EnvObservationError(f"env {index} returned an observation of shape {np.shape(obs)}; its "
                                        f"observation space says {tuple(expected)}")
        return err

    def render(self) -> np.ndarray | None:
        """The first env's frame (``render_mode="rgb_array"``), or None."""
        frames = self.env.render()
        if frames is None:
            return None
        return np.asarray(frames[0] if isinstance(frames, (tuple, list)) else frames)

    def close(self) -> None:
        if not self._broken:
            try:
                self.env.close()
                return
            except (EOFError, ConnectionError):  # a worker died after the last step (a stop signal reached it)
                pass
        # A failed worker never answers: skip gymnasium's wait for the pending step, terminate the
        # workers, and let nothing raised on the way mask the error that broke the env.
        self.env._state = type(self.env._state).DEFAULT
        try:
            self.env.close(terminate=True)
        except (EOFError, ConnectionError, OSError):
            pass


def host_env_for(config: Any) -> HostVectorEnv:
    """The vector env a training config asks for (env, num_envs, vectorization, checks, timeout)."""
    env = make_vector_env(config.env, config.num_envs, config.vectorization, seed=config.seed,
                          render_mode="rgb_array" if getattr(config, "capture_video", False) else None,
                          env_kwargs=env_kwargs_of(config))
    return HostVectorEnv(env, config.check_env_finite, config.env_step_timeout)

"""Config in one shape: the run's fields (:class:`RunConfig`) once, each algorithm's
hyper-parameters in its own dataclass that extends it, vmappable ones marked on the field.

An algorithm config is ``@dataclasses.dataclass(frozen=True) class XConfig(RunConfig)``;
every field has a ``# comment`` saying what it means. A numeric hyper-parameter that a
sweep may ``vmap`` over is declared with :func:`hparam` and reaches the train state as a
float32 array in ``state.hparams`` (built by :func:`hparams_from_config`). Invalid values
raise ``ValueError`` naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import re
import types
import typing
from typing import Any, TypeVar

import jax.numpy as jnp

VECTORIZATION_MODES = ("sync", "async", "vector_entry_point", "envpool")
# RunConfig.matmul_precision's values: JAX's names for float32 matrix products (jaxrl.core.platform.matmul_precision)
MATMUL_PRECISIONS = ("default", "high", "highest")
COUNTER_LIMIT = 2**31  # env-step and update counters are int32 inside jit
FRESH_STARTS = ("step", "rollout")  # RunConfig.fresh_starts
WANDB_MODES = (None, "online", "offline", "disabled")
SEED_LIMIT = 2**32  # jax.random.PRNGKey(seed) keeps 32 bits: seeds from here on alias smaller ones

ConfigT = TypeVar("ConfigT")

_FIELD_LINE = re.compile(r"^\s+(\w+): [^=]+=.*?  # (.*)$")
_COMMENT_LINE = re.compile(r"^\s+# (.*)$")


@functools.cache  # once per class: every `jaxrl` command builds the whole parser
def _class_source(cls: type) -> list[str]:
    """The lines of ``class <cls>`` in its module's file, up to the next top-level line ([] without source).
    Read directly: ``inspect.getsource`` parses the module with ``ast`` per class, 0.19 s of every start."""
    try:
        lines = open(inspect.getsourcefile(cls) or "", encoding="utf-8").read().splitlines()
    except (OSError, TypeError):
        return []
    header = re.compile(rf"^class {cls.__name__}\b")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "\t")), len(lines))
    return lines[start:end]


@functools.cache
def field_docs(config_cls: type) -> dict[str, str]:
    """Each field's ``# comment`` from the source of ``config_cls`` and its bases (a subclass's comment
    wins; a comment continued on the next line is joined): the text ``--help`` shows."""
    docs: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        if not dataclasses.is_dataclass(cls):
            continue
        last = None
        for line in _class_source(cls):
            if match := _FIELD_LINE.match(line):
                last = match.group(1)
                docs[last] = match.group(2)
            elif last is not None and (match := _COMMENT_LINE.match(line)) and not match.group(1).startswith("---"):
                docs[last] += " " + match.group(1)
            else:
                last = None
    return docs


def hparam(default: Any, structural: bool = False, when_none: float | None = None) -> Any:
    """A config field that is also a vmappable hyper-parameter (``state.hparams[name]``).

    ``structural``: the field being None builds a different program (PPO's ``target_kl``: no early
    stop; ``critic_learning_rate``: one optimizer), so its values can be vmapped only when the
    config gives it one (:func:`unset_structural_fields`). ``when_none``: the number the
    hyper-parameter holds while the field is None, one that turns its feature off (a reward clip
    of ``inf``), so the program is the same either way and a sweep can mix both."""
    return dataclasses.field(default=default, metadata={"vmappable": True, "structural": structural,
                                                        "when_none": when_none})


def unset_structural_fields(config: Any, names: Any) -> list[str]:
    """Those of ``names`` that are structural hyper-parameters (:func:`hparam`) left None in ``config``."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    return [name for name in names
            if name in fields and fields[name].metadata.get("structural") and getattr(config, name) is None]


def vmappable_fields(config: Any) -> tuple[str, ...]:
    """Names of the fields declared with :func:`hparam`, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(config) if f.metadata.get("vmappable"))


def hparams_from_config(config: Any, resolved: dict[str, float] | None = None) -> dict[str, Any]:
    """``{name: float32 scalar}`` for every vmappable field; a None field takes its ``resolved`` value (PPO's
    ``critic_learning_rate``: ``learning_rate``), else its :func:`hparam` ``when_none``; ``resolved`` may add more."""
    resolved = resolved or {}
    values = {}
    fields = {field.name: field for field in dataclasses.fields(config)}
    for name in vmappable_fields(config):
        value = getattr(config, name)
        values[name] = resolved.get(name, fields[name].metadata["when_none"]) if value is None else value
    values.update({name: value for name, value in resolved.items() if name not in values})
    return {name: jnp.asarray(value, jnp.float32) for name, value in values.items()}


def _type_error(name: str, hint: Any, value: Any) -> str | None:
    """Why ``value`` does not fit the annotation ``hint`` of field ``name`` (None if it does)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if not isinstance(value, tuple | list) or not all(_type_error(name, args[0], v) is None for v in value):
            return f"{name} must be a sequence of {args[0].__name__}, got {value!r}"
        return None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    return None if ok else f"{name} must be {hint.__name__}, got {type(value).__name__} {value!r}"


def check_field_types(config: Any) -> None:
    """``ValueError`` naming the first field whose value does not have its annotated type, and the
    first float field that is NaN (no field means anything as NaN)."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        problem = _type_error(field.name, hints[field.name], value)
        if problem is not None:
            raise ValueError(problem)
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{field.name} must not be NaN")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The fields of a run that are not an algorithm's: which env, how long, how many envs,
    how to vectorize them, when to stop, what to save. Every algorithm config extends it
    (and may change a default, e.g. ``env``)."""

    # --- environment and run ---
    env: str = "CartPole-v1"  # gymnasium id (host loop) or a JAX env id (device loop); `jaxrl envs` lists them
    seed: int = 1  # seeds the env, network init, exploration and sampling
    total_timesteps: int = 100_000  # env steps (summed over envs)
    num_envs: int = 8  # parallel envs in the vector env
    vectorization: str = "sync"  # "sync", "async", "vector_entry_point" (the env's own) or "envpool" (extra)
    env_kwargs: tuple[str, ...] = ()  # NAME=VALUE arguments of a gymnasium env's constructor (host loop), VALUE
    # read as JSON where it parses (0.25, false, "x"), else as text: e.g. include_cfrc_ext_in_observation=false
    fresh_starts: str = "step"  # device loop: an env whose episode ends restarts from a start state drawn
    # at every step ("step": the reset runs at every step for every env) or once per env per rollout, before
    # its acting scan ("rollout"; replay schedules: per metrics record of log_every env steps). With
    # "rollout" an env that ends twice in one rollout restarts from the same state; physics envs step up to
    # 2.3x faster, their reset costing more than their step. The host loop's envs reset themselves
    # --- stopping, checkpoints and progress ---
    target_return: float | None = None  # stop once episodic_return (mean of the last 20 episodes) reaches it
    patience: int | None = None  # stop after this many metrics records without a new best episodic_return
    eval_every: int = 0  # metrics records (PPO: updates) between deterministic evaluations during training (0: none;
    # Atari: sampled actions); each seed's best evaluated agent is kept in best/ (device runs: seed_<s>/best/)
    eval_episodes: int = 10  # fresh episodes each evaluation during training plays
    target_eval_return: float | None = None  # stop once every seed's deterministic evaluation reaches it
    # (mean over eval_episodes; needs eval_every > 0): the saved agent is then the evaluated one
    checkpoint_every: int = 50  # metrics records (PPO: updates) between periodic checkpoints (0: final only)
    checkpoint_seconds: float | None = 120.0  # host loop: also checkpoint once this much wall-clock passed (None: no;
    # stretched where a checkpoint takes longer than 2 percent of it to write, e.g. a full replay of Atari frames)
    keep_checkpoints: int = 3  # most recent checkpoints kept on disk
    progress: bool = True  # show a progress bar
    capture_video: bool = False  # host loop, sync envs: write env 0's episodes 0, 1, 8, 27, ... (cubes, then every
    # 1000th: CleanRL's) to <run_dir>/videos, as MP4 with the video extra, else as GIF
    matmul_precision: str = "default"  # float32 matrix products: "default" (TF32 on NVIDIA GPUs since Ampere),
    # "high" or "highest" (full float32); the same on a CPU. See jaxrl.core.platform.matmul_precision
    check_env_finite: bool = True  # error naming the env index when an env returns a NaN/inf observation or reward
    env_step_timeout: float | None = 300.0  # seconds an async env's step or reset may take (None: no limit)
    # --- experiment tracking (besides TensorBoard, which is always written) ---
    track: bool = False  # also log the metrics to Weights & Biases (extra: wandb)
    wandb_project: str = "jaxrl"  # W&B project of a tracked run
    wandb_entity: str | None = None  # W&B team or user (None: your default)
    wandb_mode: str | None = None  # "online", "offline" (sync later with `wandb sync`) or "disabled"; None: WANDB_MODE

    def validate_run(self) -> None:
        """Type-check every field, then the run fields' rules; ``ValueError`` naming the field."""
        check_field_types(self)
        if not self.env:
            raise ValueError(f"env must be a non-empty env id, got {self.env!r}")
        for name in ("total_timesteps", "num_envs"):
            if not 1 <= getattr(self, name) < COUNTER_LIMIT:
                raise ValueError(f"{name} must be in [1, 2**31), got {getattr(self, name)} (step counters are int32)")
        if not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed} (PRNGKey folds larger seeds onto smaller "
                             "ones, so they would not be distinct runs)")
        env_kwargs_of(self)
        check_choice(self, "matmul_precision", MATMUL_PRECISIONS)
        check_choice(self, "vectorization", VECTORIZATION_MODES)
        check_choice(self, "fresh_starts", FRESH_STARTS)
        if self.capture_video and self.vectorization != "sync":
            raise ValueError(f"capture_video records env 0 of sync envs, not vectorization={self.vectorization!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 (or None), got {self.patience}")
        if self.eval_every < 0 or self.eval_episodes < 1:
            raise ValueError(f"eval_every must be >= 0 and eval_episodes >= 1, got {self.eval_every} and "
                             f"{self.eval_episodes}")
        if self.target_eval_return is not None and not self.eval_every:
            raise ValueError("target_eval_return is checked at the evaluations during training: set eval_every > 0 "
                             "(metrics records between them), e.g. --eval-every 5")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        for name in ("env_step_timeout", "checkpoint_seconds"):
            if getattr(self, name) is not None and not (getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise ValueError(f"{name} must be a positive number of seconds (or None), got {getattr(self, name)}")
        for name in ("target_return", "target_eval_return"):  # -inf would stop at once, inf never
            if getattr(self, name) is not None and math.isinf(getattr(self, name)):
                raise ValueError(f"{name} must be a finite return (or None), got {getattr(self, name)}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}")
        check_choice(self, "wandb_mode", WANDB_MODES)
        if not self.wandb_project.strip():
            raise ValueError("wandb_project must be a non-empty name")


@dataclasses.dataclass(frozen=True)
class OnPolicyConfig(RunConfig):
    """The on-policy schedule the loops run: ``num_updates`` x (a rollout of ``num_steps`` steps of
    every env, one ``update`` of ``update_epochs`` x ``num_minibatches`` minibatch steps)."""

    # --- rollout and update schedule ---
    num_steps: int = 32  # steps per env per rollout; batch = num_envs * num_steps
    update_epochs: int = 4  # passes over each batch
    num_minibatches: int = 4  # minibatches per epoch

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return max(1, self.total_timesteps // self.batch_size)

    def validate_schedule(self) -> None:
        """The run's fields, then the schedule's; ``ValueError`` naming the field."""
        self.validate_run()
        check_at_least(self, 1, "num_steps", "update_epochs", "num_minibatches")
        if self.total_timesteps < self.batch_size:
            raise ValueError(f"total_timesteps ({self.total_timesteps}) must be at least one batch "
                             f"(num_envs * num_steps = {self.batch_size})")

    def check_minibatches_divide_the_batch(self) -> None:
        if self.batch_size % self.num_minibatches:
            raise ValueError(f"num_envs * num_steps ({self.num_envs} * {self.num_steps} = {self.batch_size}) "
                             f"must be divisible by num_minibatches ({self.num_minibatches})")


@dataclasses.dataclass(frozen=True)
class ReplayConfig(RunConfig):
    """The replay schedule the loops run (names after CleanRL's DQN/DDPG/TD3/SAC scripts): uniformly
    random actions for ``learning_starts`` env steps, every vector-env step added to a buffer of
    ``buffer_size``, an ``update`` (``updates_per_step`` gradient steps on ``batch_size`` samples)
    every ``train_frequency`` vector-env steps after that, a metrics record every ``log_every``."""

    # --- the run (RunConfig's fields, with replay defaults) ---
    num_envs: int = 1  # parallel envs; each env step adds num_envs transitions
    checkpoint_every: int = 100  # metrics records (log_every env steps each) between checkpoints (0: final only)
    # --- replay and schedule ---
    buffer_size: int = 1_000_000  # replay capacity in steps (an episode's final observation takes one more row)
    batch_size: int = 256  # transitions per gradient step
    learning_starts: int = 1_000  # env steps of uniformly random actions before learning
    train_frequency: int = 1  # vector-env steps between update calls
    updates_per_step: int = 1  # gradient steps per update call (update-to-data ratio), in one lax.scan
    log_every: int = 100  # env steps per metrics record (CleanRL logs losses every 100 steps)
    n_step: int = 1  # n-step returns: rewards of up to n steps, then gamma**n bootstrap (cut at episode ends)

    def validate_replay(self) -> None:
        """The run's fields, then the schedule's; ``ValueError`` naming the field."""
        self.validate_run()
        check_at_least(self, 1, "buffer_size", "batch_size", "train_frequency", "updates_per_step", "log_every",
                       "n_step")
        if self.batch_size > self.buffer_size:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")
        check_replay_capacity(self.buffer_size, self.num_envs, self.n_step)
        check_at_least(self, 0, "learning_starts")


def counted(count: int, noun: str) -> str:
    """``"1 env"``, ``"8 envs"``: a count and its noun, plural where the count is not 1."""
    return f"{count} {noun}{'s' if count != 1 else ''}"


def check_replay_capacity(buffer_size: int, num_envs: int, n_step: int, frame_stack: int = 0) -> None:
    """One-line ``ValueError`` unless a time-ordered replay (:mod:`jaxrl.core.sequence_replay`) gives each env
    rows for a step, its horizon and the row after it, and with ``frame_stack`` > 1, two segments' first stacks."""
    per_env = n_step + 2 + max(frame_stack - 1, 0) * 2
    if buffer_size < per_env * num_envs:
        frames = f" and {frame_stack} stacked frames" if frame_stack > 1 else ""
        raise ValueError(f"buffer_size ({buffer_size}) must hold {per_env} steps per env (num_envs={num_envs}) "
                         f"for n_step={n_step}{frames}: at least {per_env * num_envs}")


def not_one_of(name: str, value: Any, choices: Any) -> str:
    """The one line that says ``value`` is not among ``choices`` (listed sorted)."""
    return f"{name} must be one of {sorted(choices, key=str)}, got {value!r}"


def check_choice(config: Any, name: str, choices: Any) -> None:
    """One-line ``ValueError`` unless ``config.<name>`` is one of ``choices``."""
    value = getattr(config, name)
    if value not in choices:
        raise ValueError(not_one_of(name, value, choices))


def check_conv_layout(channels: tuple[int, ...], kernels: tuple[int, ...], strides: tuple[int, ...]) -> None:
    """Positive channel counts, and kernel sizes and strides that are empty (3 and 1) or one per conv."""
    if any(count < 1 for count in channels):
        raise ValueError(f"conv_channels must be positive ints (or empty: no conv torso), got {channels}")
    for name, values in (("conv_kernels", kernels), ("conv_strides", strides)):
        if values and (len(values) != len(channels) or any(value < 1 for value in values)):
            raise ValueError(f"{name} must be one positive int per conv_channels entry ({len(channels)}), or empty; "
                             f"got {values}")


def check_clip(config: Any, *names: str) -> None:
    """``ValueError`` naming the first of ``names`` (clip bounds) that is neither None (no clip) nor > 0."""
    for name in names:
        if getattr(config, name) is not None and not getattr(config, name) > 0:
            raise ValueError(f"{name} must be > 0 (or None: no clip), got {getattr(config, name)}")


def check_hidden_sizes(sizes: tuple[int, ...], name: str = "hidden_sizes") -> None:
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError(f"{name} must be a non-empty list of positive ints, got {sizes}")


def check_positive(config: Any, *names: str) -> None:
    """``ValueError`` naming the first of ``names`` that is not a positive finite number."""
    for name in names:
        value = getattr(config, name)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive finite number, got {value}")


def check_at_least(config: Any, minimum: float, *names: str) -> None:
    """``ValueError`` naming the first of ``names`` below ``minimum``."""
    for name in names:
        if getattr(config, name) < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {getattr(config, name)}")


def check_in_unit_interval(config: Any, *names: str) -> None:
    """``ValueError`` naming the first of ``names`` outside ``[0, 1]``."""
    for name in names:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(config, name)}")


def check_fraction(config: Any, *names: str) -> None:
    """``ValueError`` naming the first of ``names`` outside ``(0, 1]`` (a share of the run, a rate)."""
    for name in names:
        if not 0.0 < getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {getattr(config, name)}")


def with_preset(config_cls: type[ConfigT], presets: dict[str, dict[str, Any]], env: str, **overrides: Any) -> ConfigT:
    """``config_cls`` with the preset for ``env`` (if any), then ``overrides`` (``env_kwargs`` may be a dict)."""
    if isinstance(overrides.get("env_kwargs"), dict):
        overrides["env_kwargs"] = tuple(f"{name}={json.dumps(value)}"
                                        for name, value in overrides["env_kwargs"].items())
    return dataclasses.replace(config_cls(), **{**presets.get(env, {}), **overrides, "env": env})


_PYTHON_WORDS = {"True": True, "False": False, "None": None}  # as a Python user may spell JSON's true/false/null


def env_kwargs_of(config: Any) -> dict[str, Any]:
    """``config.env_kwargs`` (``("NAME=VALUE", ...)``) as the keyword arguments they name, each VALUE
    read as JSON where it parses and as text otherwise; ``ValueError`` naming a malformed item or a
    name given twice."""
    kwargs: dict[str, Any] = {}
    for item in config.env_kwargs:
        name, equals, text = item.partition("=")
        if not equals or not name.isidentifier():
            raise ValueError(f"env_kwargs items are NAME=VALUE (e.g. repeat_action_probability=0), got {item!r}")
        if name in kwargs:
            raise ValueError(f"env_kwargs names {name!r} twice")
        try:
            kwargs[name] = _PYTHON_WORDS[text] if text in _PYTHON_WORDS else json.loads(text)
        except json.JSONDecodeError:
            kwargs[name] = text
    return kwargs

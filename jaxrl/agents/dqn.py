"""DQN (Mnih et al., 2015) with optional double Q-learning: :data:`DQN`.

Flags and defaults follow CleanRL's ``dqn.py``: a replay buffer (the loops' device buffer,
holding the integer actions), a target network updated every ``target_network_frequency``
env steps by Polyak averaging with ``tau`` (1.0: a hard copy), and epsilon-greedy
exploration from ``start_e`` to ``end_e`` over ``exploration_fraction`` of the env steps.

The agent counts gradient steps, not env steps, so both schedules read the env steps off the
replay schedule: ``env_steps = learning_starts + step / updates_per_step * train_frequency *
num_envs`` -- the env steps at which the loops ran ``step`` gradient steps. The count lives in
the train state, so a resumed run explores and refreshes its target where the interrupted one
left off.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents.base import (
    clip_by_global_norm,
    no_carry,
    no_exploration,
    noise_as_is,
    parameter_norm,
    require_discrete,
)
from jaxrl.agents.value_based import epsilon_greedy_noise, init_q_params, q_values
from jaxrl.config import (
    ReplayConfig,
    check_choice,
    check_clip,
    check_conv_layout,
    check_fraction,
    check_hidden_sizes,
    check_in_unit_interval,
    check_positive,
    hparam,
    hparams_from_config,
)
from jaxrl.core.noise import epsilon_greedy
from jaxrl.core.nstep import nstep_returns
from jaxrl.core.replay import ReplayBuffer, replay_sample_batches
from jaxrl.core.td import soft_update, td_target
from jaxrl.envs.atari import PREFIX as ATARI_PREFIX
from jaxrl.envs.gymnax_suite import MINATAR_IDS
from jaxrl.envs.twins import ACROBOT_IDS, CARTPOLE_IDS, MOUNTAIN_CAR_IDS
from jaxrl.nets.conv import PADDINGS
from jaxrl.nets.mlp import activation_by_name
from jaxrl.types import Agent, EnvSpec, Transition

# The update direction of each optimizer; the step size is applied in the update.
OPTIMIZERS: dict[str, optax.GradientTransformation] = {
    "adam": optax.scale_by_adam(),
    # torch's RMSprop(alpha=0.95, eps=0.01, centered=True) as MinAtar's DQN uses it: the gradient over
    # the root of its running variance plus 0.01 (the epsilon outside the root, unlike optax's default)
    "rmsprop": optax.scale_by_stddev(decay=0.95, eps=0.01, eps_in_sqrt=False),
}
# The loss of each TD error q - target, per sample.
LOSSES: dict[str, Callable[[jax.Array], jax.Array]] = {
    "mse": jnp.square,
    "huber": lambda error: optax.huber_loss(error, delta=1.0),
}


@dataclasses.dataclass(frozen=True)
class DQNConfig(ReplayConfig):
    """Every knob of a DQN run; defaults are CleanRL's CartPole-v1 settings."""

    # --- the run and its schedule (RunConfig's and ReplayConfig's fields, with DQN defaults) ---
    total_timesteps: int = 500_000  # env steps (summed over envs)
    buffer_size: int = 10_000  # replay capacity in steps (an episode's final observation takes one more row)
    batch_size: int = 128  # transitions per gradient step
    learning_starts: int = 10_000  # env steps of uniformly random actions before learning
    train_frequency: int = 10  # vector-env steps between update calls
    # --- optimisation ---
    learning_rate: float = hparam(2.5e-4)  # optimizer step size
    optimizer: str = "adam"  # adam (CleanRL's), or rmsprop (the MinAtar paper's: centered, decay 0.95, eps 0.01)
    loss: str = "mse"  # TD error loss: mse (CleanRL's), or huber (delta 1: Mnih et al.'s and MinAtar's)
    max_grad_norm: float | None = hparam(None, when_none=math.inf)  # global-norm gradient clip (SB3's DQN: 10);
    # None: no clip (CleanRL's)
    gamma: float = hparam(0.99)  # discount
    reward_clip: float | None = hparam(None, when_none=math.inf)  # clip rewards to [-reward_clip, reward_clip] in
    # the TD targets (Atari: 1, the DQN paper's); the replay and the reported returns keep the raw ones; None: no clip
    tau: float = hparam(1.0)  # target-network Polyak rate (1.0: copy), in (0, 1]
    target_network_frequency: int = 500  # env steps between target-network updates
    double_q: bool = False  # pick the next action with the online network, value it with the target (van Hasselt)
    # --- epsilon-greedy exploration ---
    start_e: float = hparam(1.0)  # epsilon at the start
    end_e: float = hparam(0.05)  # epsilon after the decay
    exploration_fraction: float = hparam(0.5)  # fraction of total_timesteps over which epsilon decays linearly
    # --- network ---
    hidden_sizes: tuple[int, ...] = (120, 84)  # Q-network hidden layer sizes
    activation: str = "relu"  # tanh, relu, silu or elu
    layer_norm: bool = False  # LayerNorm after each hidden layer
    conv_channels: tuple[int, ...] = ()  # conv layers before the MLP, for image observations (MinAtar: 16)
    conv_kernels: tuple[int, ...] = ()  # each conv's kernel size (Atari's: 8 4 3); empty: 3 each
    conv_strides: tuple[int, ...] = ()  # each conv's stride (Atari's: 4 2 1); empty: 1 each
    conv_layer_norm: bool = False  # LayerNorm over channels after each conv layer, before its ReLU
    conv_padding: str = "same"  # same (10x10 maps from MinAtar's grid) or valid (8x8: MinAtar's and purejaxql's)

    def validate(self) -> DQNConfig:
        """Raise ``ValueError`` naming the first invalid field; return self when valid."""
        self.validate_replay()
        check_fraction(self, "gamma")
        check_clip(self, "reward_clip", "max_grad_norm")
        check_positive(self, "learning_rate")
        check_choice(self, "optimizer", OPTIMIZERS)
        check_choice(self, "loss", LOSSES)
        if self.target_network_frequency < 1:
            raise ValueError(f"target_network_frequency must be >= 1, got {self.target_network_frequency}")
        check_in_unit_interval(self, "start_e", "end_e")
        check_fraction(self, "exploration_fraction", "tau")
        check_hidden_sizes(self.hidden_sizes)
        check_conv_layout(self.conv_channels, self.conv_kernels, self.conv_strides)
        check_choice(self, "conv_padding", PADDINGS)
        activation_by_name(self.activation)
        return self


DQN_PRESETS: dict[str, dict[str, Any]] = dict.fromkeys(CARTPOLE_IDS, {})
# The MinAtar paper's DQN (Young & Tian 2019, its examples/dqn.py), one for every MinAtar game: 1 env, a
# 100k replay, batches of 32 every step after 5k random steps, a hard target copy every 1k steps, centered
# RMSProp at 2.5e-4, Huber loss, epsilon 1 -> 0.1 over the first 100k steps, a 16-channel unpadded 3x3
# conv (8x8 maps) and a 128-unit layer, 5M steps. jaxrl's epsilon decay starts at step 0 where MinAtar's
# starts after the 5k random steps.
MINATAR_PRESET: dict[str, Any] = {
    "total_timesteps": 5_000_000, "num_envs": 1, "buffer_size": 100_000, "batch_size": 32,
    "learning_starts": 5_000, "train_frequency": 1, "learning_rate": 2.5e-4, "optimizer": "rmsprop",
    "loss": "huber", "gamma": 0.99, "tau": 1.0, "target_network_frequency": 1_000, "double_q": False,
    "start_e": 1.0, "end_e": 0.1, "exploration_fraction": 0.02, "hidden_sizes": (128,), "activation": "relu",
    "conv_channels": (16,), "conv_padding": "valid",
}
DQN_PRESETS.update(dict.fromkeys(MINATAR_IDS, MINATAR_PRESET))
# Atari (ALE/<Game>-v5, preprocessed by jaxrl.envs.atari): CleanRL's dqn_atari.py, the Nature DQN on one env:
# lr 1e-4 Adam, MSE loss, batches of 32 every 4th step after 80k random steps, a hard target copy every 1k
# steps, epsilon 1 -> 0.01 over the first 10% of 10M steps, rewards clipped to [-1, 1], the DQN paper's convs
# and a 512 ReLU layer. The replay holds 100k steps (RL Zoo's Atari DQN; 0.7 GB, one 84x84 frame a step) where
# CleanRL's holds 1M (7 GB: --buffer-size 1000000 where the memory allows).
ATARI_DQN_PRESET: dict[str, Any] = {
    "total_timesteps": 10_000_000, "num_envs": 1, "buffer_size": 100_000, "batch_size": 32,
    "learning_starts": 80_000, "train_frequency": 4, "learning_rate": 1e-4, "optimizer": "adam", "loss": "mse",
    "gamma": 0.99, "reward_clip": 1.0, "tau": 1.0, "target_network_frequency": 1_000, "double_q": False,
    "start_e": 1.0, "end_e": 0.01, "exploration_fraction": 0.1, "hidden_sizes": (512,), "activation": "relu",
    "conv_channels": (32, 64, 64), "conv_kernels": (8, 4, 3), "conv_strides": (4, 2, 1), "conv_padding": "valid",
}
DQN_PREFIX_PRESETS: dict[str, dict[str, Any]] = {ATARI_PREFIX: ATARI_DQN_PRESET}
# gymnasium's LunarLander-v3 (pip install 'jaxrl[box2d]'): RL Baselines3 Zoo's DQN settings for LunarLander on
# SB3's DQN (its Huber loss): 1 env, a 50k replay, batches of 128, learning from the first step, 4 gradient
# steps every 4th step (SB3's gradient_steps=-1), lr 6.3e-4, a hard target copy every 250 steps, epsilon 1 ->
# 0.1 over the first 12%, 256x256 ReLU, SB3's gradient clip at norm 10, 100k steps.
# Seeds 1-3, not tuned: 236.1 / 169.9 / 236.1 (20 deterministic episodes; 200 is "solved"; 214.0 / 150.5 / 260.7
# without the clip), 125-164 s a seed.
DQN_PRESETS["LunarLander-v3"] = {
    "total_timesteps": 100_000, "num_envs": 1, "buffer_size": 50_000, "batch_size": 128, "learning_starts": 0,
    "train_frequency": 4, "updates_per_step": 4, "learning_rate": 6.3e-4, "loss": "huber", "max_grad_norm": 10.0,
    "gamma": 0.99, "tau": 1.0, "target_network_frequency": 250, "start_e": 1.0, "end_e": 0.1,
    "exploration_fraction": 0.12, "hidden_sizes": (256, 256), "activation": "relu",
}
# RL Zoo gives Acrobot-v1 the same settings, and MountainCar-v0 its own: a 10k replay, 8 gradient steps every
# 16th step after 1k random ones, lr 4e-3, gamma 0.98, a target copy every 600 steps, epsilon to 0.07 over
# 20%, 120k steps. Seeds 1-3: Acrobot -68.5 / -74.3 / -68.5 (103-111 s a seed); MountainCar 6/8 seeds >= -150 on
# seeds 1-8 (-125.2 / -190.1 / -109.5 / -108.2 / -104.8 / -117.2 / -111.1 / -177.8; 80-110 s), as without the clip.
DQN_PRESETS.update(dict.fromkeys(ACROBOT_IDS, DQN_PRESETS["LunarLander-v3"]))
DQN_PRESETS.update(dict.fromkeys(MOUNTAIN_CAR_IDS, {
    **DQN_PRESETS["LunarLander-v3"], "total_timesteps": 120_000, "buffer_size": 10_000, "learning_starts": 1_000,
    "train_frequency": 16, "updates_per_step": 8, "learning_rate": 4e-3, "gamma": 0.98,
    "target_network_frequency": 600, "end_e": 0.07, "exploration_fraction": 0.2,
}))


@struct.dataclass
class DQNState:
    """Everything DQN learns or schedules. A pytree; ``config`` and ``spec`` are static."""

    params: Any  # online Q-network
    target_params: Any
    opt_state: optax.OptState
    hparams: dict[str, jax.Array]
    step: jax.Array  # int32: gradient steps done
    config: DQNConfig = struct.field(pytree_node=False)
    spec: EnvSpec = struct.field(pytree_node=False)


def init(key: jax.Array, spec: EnvSpec, config: DQNConfig) -> DQNState:
    """Fresh online and target parameters (equal) and optimizer state."""
    config.validate()
    require_discrete(spec, "DQN")
    params = init_q_params(key, config, spec)
    return DQNState(params=params, target_params=jax.tree.map(jnp.copy, params),
                    opt_state=OPTIMIZERS[config.optimizer].init(params),
                    hparams=hparams_from_config(config), step=jnp.zeros((), jnp.int32),
                    config=config, spec=spec)


def schedule_env_steps(config: DQNConfig, step: jax.Array) -> jax.Array:
    """The env steps at which the replay schedule has run ``step`` gradient steps (float32)."""
    updates = step.astype(jnp.float32) / config.updates_per_step
    return config.learning_starts + updates * config.train_frequency * config.num_envs


def epsilon(state: DQNState) -> jax.Array:
    """The exploration rate at the env step the replay schedule has reached after ``state.step``."""
    config, hp = state.config, state.hparams
    env_steps = schedule_env_steps(config, state.step)
    progress = jnp.minimum(env_steps / (hp["exploration_fraction"] * config.total_timesteps), 1.0)
    return hp["start_e"] + progress * (hp["end_e"] - hp["start_e"])


def _act(state: DQNState, obs: jax.Array, noise: jax.Array | None, carry: None = None,
         episode_start: jax.Array | None = None) -> tuple[jax.Array, dict, None]:
    return epsilon_greedy(q_values(state, state.params, obs), noise, epsilon(state)), {}, carry


act = jax.jit(_act)
act.__doc__ = """Epsilon-greedy actions ``[B]`` int32 for ``obs [B, *obs_shape]`` from ``noise [B, 2]``; greedy
when ``noise`` is None."""


def _train_step(state: DQNState, batch: Transition) -> tuple[DQNState, dict[str, jax.Array]]:
    config, hp = state.config, state.hparams
    next_target_q = q_values(state, state.target_params, batch.next_obs)
    if config.double_q:
        next_actions = jnp.argmax(q_values(state, state.params, batch.next_obs), axis=-1)
        next_q = jnp.take_along_axis(next_target_q, next_actions[:, None], axis=-1)[:, 0]
    else:
        next_q = next_target_q.max(axis=-1)
    rewards = jnp.clip(batch.rewards, -hp["reward_clip"], hp["reward_clip"])
    returns, discount = nstep_returns(rewards, batch.extras, hp["gamma"])
    targets = jax.lax.stop_gradient(td_target(returns, next_q, batch.terminated, discount))

    def loss(params: Any) -> tuple[jax.Array, jax.Array]:
        q = jnp.take_along_axis(q_values(state, params, batch.obs), batch.actions[:, None].astype(jnp.int32),
                                axis=-1)[:, 0]
        return jnp.mean(LOSSES[config.loss](q - targets)), jnp.mean(q)

    (value, mean_q), grads = jax.value_and_grad(loss, has_aux=True)(state.params)
    grads, grad_norm = clip_by_global_norm(grads, hp["max_grad_norm"])
    direction, opt_state = OPTIMIZERS[config.optimizer].update(grads, state.opt_state, state.params)
    params = jax.tree.map(lambda p, d: p - hp["learning_rate"] * d, state.params, direction)
    step = state.step + 1
    # the first gradient step at or past each multiple of target_network_frequency env steps
    period = lambda n: jnp.floor(schedule_env_steps(config, n) / config.target_network_frequency)  # noqa: E731
    refresh = period(step) > period(state.step)
    target = jax.tree.map(lambda new, old: jnp.where(refresh, new, old),
                          soft_update(state.target_params, params, hp["tau"]), state.target_params)
    state = state.replace(params=params, target_params=target, opt_state=opt_state, step=step)
    return state, {"loss": value, "q_values": mean_q, "grad_norm": grad_norm}


def _update(state: DQNState, buffer: ReplayBuffer, key: jax.Array) -> tuple[DQNState, dict[str, jax.Array]]:
    batches = replay_sample_batches(buffer, jax.random.split(key, state.config.updates_per_step),
                                    state.config.batch_size)
    state, metrics = jax.lax.scan(_train_step, state, batches)
    return state, {**jax.tree.map(jnp.mean, metrics), "epsilon": epsilon(state),
                   "param_norm": parameter_norm(state.params)}


update = jax.jit(_update)
update.__doc__ = """``updates_per_step`` DQN gradient steps on fresh replay samples; metrics loss, q_values,
grad_norm (before the clip; means over the steps), epsilon (after the steps) and param_norm."""

DQN = Agent(init=init, act=act, update=update, sample_noise=epsilon_greedy_noise, init_exploration=no_exploration,
            explore=noise_as_is, initial_carry=no_carry)
"""The DQN agent."""

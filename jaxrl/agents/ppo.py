"""Proximal Policy Optimisation (clipped surrogate), feed-forward policies: :data:`PPO`.

The :class:`~jaxrl.types.Agent` functions over a :class:`PPOState`:

* ``init(key, spec, config) -> PPOState``
* ``act(state, obs [B, *obs_shape], noise | None, carry=None, episode_start=None) ->
  (actions, {"log_prob": [B], "value": [B]}, None)``
* ``sample_noise(state, key, batch_shape)``: Gumbel (discrete) or normal (Box) draws;
  PPO explores by sampling its policy, so ``explore`` passes them through.
* ``update(state, rollout: Rollout [T, B], key) -> (PPOState, metrics)``

Static choices (shapes, counts, flags) live in the frozen :class:`PPOConfig`, which the
state carries as static pytree metadata; numeric hyper-parameters are copied into
``state.hparams`` as arrays so a sweep can ``vmap`` over them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents.base import (
    clip_by_global_norm,
    flat_observations,
    no_carry,
    no_exploration,
    noise_as_is,
    noise_or_zeros,
    parameter_norm,
)
from jaxrl.agents.ppo_config import PPOConfig
from jaxrl.config import hparams_from_config
from jaxrl.core.bootstrap import next_observation_values
from jaxrl.core.distributions import ActionDistribution, DiagGaussian, discrete_distribution
from jaxrl.core.flat_draws import flat_draw
from jaxrl.core.gae import gae
from jaxrl.core.losses import (
    explained_variance,
    masked_mean,
    normalize_advantages,
    ppo_policy_loss,
    value_loss,
)
from jaxrl.core.minibatches import shuffled_minibatches
from jaxrl.core.normalization import (
    RewardNorm,
    RunningStats,
    init_reward_norm,
    init_running_stats,
    normalize,
    normalize_rewards,
    update_running_stats,
)
from jaxrl.nets.conv import check_image_observations
from jaxrl.nets.init import init_in_one_batch
from jaxrl.nets.mlp import ActorCritic
from jaxrl.types import Agent, EnvSpec, Rollout

Params = Any

def _is_critic_group(name: str) -> bool:
    """Top-level parameter groups that belong to the critic when actor and critic are separate."""
    return name.startswith("critic") or name == "value_head"


@struct.dataclass
class PPOState:
    """Everything PPO learns or schedules. A pytree; ``config`` and ``spec`` are static."""

    params: Params  # flax params of the ActorCritic
    opt_state: dict[str, optax.OptState]  # one Adam state per optimizer group ("all" or "actor"/"critic")
    obs_stats: RunningStats  # observation normalisation statistics (unused if not norm_obs)
    reward_norm: RewardNorm | None  # reward normalisation's return statistics (None if not norm_reward)
    hparams: dict[str, jax.Array]  # numeric hyper-parameters as float32 scalars (vmappable)
    update_step: jax.Array  # int32 scalar: updates done so far
    config: PPOConfig = struct.field(pytree_node=False)
    spec: EnvSpec = struct.field(pytree_node=False)


def _hparams(config: PPOConfig) -> dict[str, jax.Array]:
    """The vmappable fields, with the unset ones at their neutral values."""
    return hparams_from_config(config, {"critic_learning_rate": config.learning_rate})


def network_kwargs(config: PPOConfig, spec: EnvSpec) -> dict[str, Any]:
    """Module fields shared by the feed-forward and recurrent actor-critics."""
    return dict(
        action_dim=spec.action_dim,
        continuous=not spec.discrete,
        hidden_sizes=tuple(config.hidden_sizes),
        activation=config.activation,
        hidden_gain=config.hidden_gain,
        policy_gain=config.policy_gain,
        value_gain=config.value_gain,
        log_std_init=config.log_std_init,
        trainable_log_std=config.trainable_log_std,
    )


def make_network(config: PPOConfig, spec: EnvSpec) -> ActorCritic:
    """The flax module for this config and env."""
    check_image_observations(config.conv_channels, spec.observation_shape, config.conv_padding,
                             config.conv_kernels, config.conv_strides)
    if config.asymmetric_critic and not spec.privileged_size:
        raise ValueError(f"asymmetric_critic needs an env with a privileged observation for the critic (MuJoCo "
                         f"Playground's privileged_state); {config.env} has none")
    return ActorCritic(shared_trunk=config.shared_trunk, observation_shape=spec.observation_shape,
                       policy_size=spec.policy_size if config.asymmetric_critic else None,
                       critic_hidden_sizes=tuple(config.critic_hidden_sizes),
                       **network_kwargs(config, spec), **config.conv_torso())


def network_observations(state: PPOState, obs: jax.Array) -> jax.Array:
    """What the network reads of raw observations ``[..., *obs_shape]``: normalised where
    ``norm_obs``, flat, the privileged entries kept only for an asymmetric critic."""
    if state.config.norm_obs:
        obs = normalize(state.obs_stats, obs)
    return flat_observations(obs, state.spec, privileged=state.config.asymmetric_critic)


def _optimizer_groups(config: PPOConfig, params: Params) -> dict[str, Params]:
    """Split params into one group per optimizer: ``{"all"}`` or ``{"actor", "critic"}``."""
    if config.critic_learning_rate is None:
        return {"all": params}
    critic = {k: v for k, v in params.items() if _is_critic_group(k)}
    actor = {k: v for k, v in params.items() if not _is_critic_group(k)}
    return {"actor": actor, "critic": critic}


def _merge_groups(groups: dict[str, Params]) -> Params:
    merged: dict[str, Any] = {}
    for group in groups.values():
        merged.update(group)
    return merged


def _adam(config: PPOConfig) -> optax.GradientTransformation:
    """Direction of an Adam(W) step; the (annealed) step size is applied in :func:`update`."""
    parts = [optax.scale_by_adam(eps=config.adam_eps)]
    if config.weight_decay > 0:
        parts.append(optax.add_decayed_weights(config.weight_decay))
    return optax.chain(*parts)


def init(key: jax.Array, spec: EnvSpec, config: PPOConfig) -> PPOState:
    """Fresh parameters, optimizer states and statistics."""
    config.validate()
    network = make_network(config, spec)
    input_size = math.prod(spec.observation_shape) if config.asymmetric_critic else spec.policy_size
    params = init_in_one_batch(network.init, key, jnp.zeros((1, input_size), jnp.float32))["params"]
    return new_state(config, spec, dict(params))


def new_state(config: PPOConfig, spec: EnvSpec, params: Params) -> PPOState:
    """A train state around fresh ``params``: optimizer states, statistics, hyper-parameters."""
    opt_state = {name: _adam(config).init(group) for name, group in _optimizer_groups(config, params).items()}
    return PPOState(
        params=params,
        opt_state=opt_state,
        obs_stats=init_running_stats(spec.observation_shape),
        reward_norm=init_reward_norm(config.num_envs) if config.norm_reward else None,
        hparams=_hparams(config),
        update_step=jnp.zeros((), jnp.int32),
        config=config,
        spec=spec,
    )


def policy_and_value(
    state: PPOState, params: Params, obs: jax.Array
) -> tuple[ActionDistribution, jax.Array]:
    """Action distribution and value ``[...]`` for raw observations ``[..., *obs_shape]``."""
    network = make_network(state.config, state.spec)
    policy_out, value = network.apply({"params": params}, network_observations(state, obs))
    if state.spec.discrete:
        return discrete_distribution(policy_out, state.spec.action_nvec), value
    log_std = network.apply({"params": params}, method=ActorCritic.log_std)
    return DiagGaussian(policy_out, log_std), value


def state_value(state: PPOState, obs: jax.Array) -> jax.Array:
    """Value ``[...]`` of raw observations ``[..., *obs_shape]`` (the critic alone)."""
    network = make_network(state.config, state.spec)
    return network.apply({"params": state.params}, network_observations(state, obs), method=ActorCritic.value)


def sample_noise(state: PPOState, key: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
    """Standard noise that :func:`act` turns into actions: Gumbel draws
    ``[*batch_shape, num_actions]`` (discrete) or normal draws ``[*batch_shape, action_dim]``.

    Drawing a whole rollout's noise in one call is much cheaper on CPU than one
    PRNG call per env step.
    """
    shape = (*batch_shape, state.spec.action_dim)
    return flat_draw(jax.random.gumbel if state.spec.discrete else jax.random.normal, key, shape)


def _act(state: PPOState, obs: jax.Array, noise: jax.Array | None, carry: None = None,
         episode_start: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array], None]:
    dist, value = policy_and_value(state, state.params, obs)
    actions = dist.sample_from_noise(noise_or_zeros(noise, (obs.shape[0], state.spec.action_dim)))
    return actions, {"log_prob": dist.log_prob(actions), "value": value}, carry


act = jax.jit(_act)
act.__doc__ = """Actions for ``obs [B, *obs_shape]`` from ``noise`` (:func:`sample_noise`), or the most
likely ones when ``noise`` is None.

Returns ``(actions, {"log_prob": [B], "value": [B]}, carry)``; ``actions`` is ``[B]`` int32
(Discrete), ``[B, K]`` int32 (K components: MultiDiscrete, MultiBinary) or ``[B, action_dim]``
float32, unclipped (the env adapter clips). ``carry`` and
``episode_start`` are the contract's recurrent inputs, unused here and returned as given.
"""


def learner_rewards(state: PPOState, rewards: jax.Array) -> jax.Array:
    """``reward_scale * clip(max(r, reward_min), -reward_clip, reward_clip)``: the rewards the learner optimises."""
    clip = state.hparams["reward_clip"]
    return state.hparams["reward_scale"] * jnp.clip(jnp.maximum(rewards, state.hparams["reward_min"]), -clip, clip)


def with_normalized_rewards(state: PPOState, rollout: Rollout) -> tuple[Rollout, RewardNorm | None]:
    """``norm_reward``: the rollout's rewards ``[T, B=num_envs]`` over the running scale of each env's
    discounted return, and the statistics after it; otherwise both as they are."""
    if not state.config.norm_reward:
        return rollout, state.reward_norm
    rewards, reward_norm = normalize_rewards(state.reward_norm, rollout.rewards, rollout.terminated | rollout.truncated,
                                             rollout.mask, state.hparams["gamma"])
    return rollout.replace(rewards=rewards), reward_norm


def _apply_gradients(
    state: PPOState, params: Params, opt_state: dict, grads: Params, lr_fraction: jax.Array
) -> tuple[Params, dict, jax.Array]:
    """One optimizer step per group, each with its own clip and step size."""
    config = state.config
    step_sizes = {
        "all": state.hparams["learning_rate"],
        "actor": state.hparams["learning_rate"],
        "critic": state.hparams["critic_learning_rate"],
    }
    param_groups = _optimizer_groups(config, params)
    grad_groups = _optimizer_groups(config, grads)
    new_groups, new_opt_state, norms = {}, {}, []
    for name, group_params in param_groups.items():
        clipped, norm = clip_by_global_norm(grad_groups[name], state.hparams["max_grad_norm"])
        direction, new_opt_state[name] = _adam(config).update(clipped, opt_state[name], group_params)
        step = step_sizes[name] * lr_fraction
        new_groups[name] = jax.tree.map(lambda p, d: p - step * d, group_params, direction)
        norms.append(norm)
    return _merge_groups(new_groups), new_opt_state, jnp.stack(norms).max()


# A minibatch is a dict of arrays with a leading sample axis: "obs", "actions", "log_probs",
# "values", "advantages", "returns", "mask", and whatever else the evaluate function reads
# (the recurrent agent adds carries and episode starts, and its samples are chunks).
Samples = dict[str, jax.Array]
Evaluate = Callable[[PPOState, Params, Samples], tuple[Any, jax.Array]]


def _loss(state: PPOState, params: Params, mb: Samples, evaluate: Evaluate) -> tuple[jax.Array, dict]:
    hp = state.hparams
    dist, values = evaluate(state, params, mb)
    mask = mb["mask"]
    advantages = normalize_advantages(mb["advantages"], mask) if state.config.norm_adv else mb["advantages"]
    pg_loss, info = ppo_policy_loss(dist.log_prob(mb["actions"]), mb["log_probs"], advantages, hp["clip_coef"], mask)
    v_clip = hp["clip_coef"] if state.config.clip_vloss else None
    v_loss = value_loss(values, mb["values"], mb["returns"], v_clip, mask)
    entropy = masked_mean(dist.entropy(), mask)
    total = pg_loss - hp["ent_coef"] * entropy + hp["vf_coef"] * v_loss
    return total, {
        "policy_loss": pg_loss,
        "value_loss": v_loss,
        "entropy": entropy,
        "approx_kl": info.approx_kl,
        "clip_fraction": info.clip_fraction,
    }


def advantages_and_returns(state: PPOState, rollout: Rollout, next_values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """GAE ``[T, B]`` on the learner's rewards (scaled and floored)."""
    hp = state.hparams
    return gae(learner_rewards(state, rollout.rewards), rollout.extras["value"], next_values, rollout.terminated,
               rollout.truncated, hp["gamma"], hp["gae_lambda"])


def optimize(state: PPOState, samples: Samples, key: jax.Array, evaluate: Evaluate) -> tuple[PPOState, dict]:
    """``update_epochs`` epochs of ``num_minibatches`` shuffled minibatches over the samples' leading
    axis inside ``lax.scan``, stopping the epochs once an epoch's mean approx KL passes ``target_kl``.

    Shared by the feed-forward and recurrent agents; only ``samples`` and ``evaluate`` differ.
    """
    config, hp = state.config, state.hparams
    lr_fraction = (
        1.0 - state.update_step.astype(jnp.float32) / config.num_updates if config.anneal_lr else jnp.float32(1.0)
    )
    grad_fn = jax.grad(lambda p, mb: _loss(state, p, mb, evaluate), has_aux=True)

    # The metrics are summed in the loops' carries rather than stacked as scan outputs: XLA:CPU
    # compiles a kernel for each output a loop writes, and scalar sums need none.
    metric_names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm")

    def no_metrics() -> dict[str, jax.Array]:
        return {name: jnp.float32(0.0) for name in metric_names}

    def minibatch_step(carry, minibatch):
        params, opt_state, metric_sum = carry
        grads, metrics = grad_fn(params, minibatch)
        params, opt_state, metrics["grad_norm"] = _apply_gradients(state, params, opt_state, grads, lr_fraction)
        return (params, opt_state, jax.tree.map(jnp.add, metric_sum, metrics)), None

    def run_epoch(params, opt_state, epoch_key):
        """One pass over the shuffled samples: new params and optimizer state, the minibatches' mean metrics."""
        shuffled = shuffled_minibatches(epoch_key, samples, config.num_minibatches)
        (params, opt_state, metric_sum), _ = jax.lax.scan(minibatch_step, (params, opt_state, no_metrics()), shuffled)
        return params, opt_state, {name: total / config.num_minibatches for name, total in metric_sum.items()}

    def kl_epoch_step(carry, epoch_key):
        params, opt_state, metric_sum, epochs_run, stopped = carry

        def skip(params, opt_state, _):
            return params, opt_state, no_metrics()

        params, opt_state, metrics = jax.lax.cond(stopped, skip, run_epoch, params, opt_state, epoch_key)
        ran = jnp.logical_not(stopped)
        stopped = stopped | (metrics["approx_kl"] > hp["target_kl"])
        return (params, opt_state, jax.tree.map(jnp.add, metric_sum, metrics), epochs_run + ran, stopped), None

    def every_epoch_step(carry, epoch_key):
        params, opt_state, metric_sum, epochs_run, stopped = carry
        params, opt_state, metrics = run_epoch(params, opt_state, epoch_key)
        return (params, opt_state, jax.tree.map(jnp.add, metric_sum, metrics), epochs_run + 1, stopped), None

    # Without a target KL no epoch is skipped, so the epochs need no lax.cond: the same arithmetic,
    # 0.1-0.2 s less XLA:CPU compile of a PPO 8x128 device program (of ~3.8 s), and under vmap,
    # where a cond traces both branches, 0.25 s less tracing.
    epoch_loop = every_epoch_step if config.target_kl is None else kl_epoch_step
    epoch_keys = jax.random.split(key, config.update_epochs)
    start = (state.params, state.opt_state, no_metrics(), jnp.int32(0), jnp.bool_(False))
    (params, opt_state, metric_sum, epochs_run, _), _ = jax.lax.scan(epoch_loop, start, epoch_keys)
    metrics = {name: total / jnp.maximum(epochs_run, 1) for name, total in metric_sum.items()}
    metrics["explained_variance"] = explained_variance(samples["values"], samples["returns"], samples["mask"])
    metrics["epochs_run"] = epochs_run
    metrics["learning_rate"] = hp["learning_rate"] * lr_fraction
    metrics["param_norm"] = parameter_norm(params)  # a non-finite parameter shows here
    obs_stats = state.obs_stats
    if config.norm_obs:
        # Stats move only after the update, so acting and learning on this batch used the same ones.
        flat_obs = samples["obs"].reshape((-1, *state.spec.observation_shape))
        obs_stats = update_running_stats(obs_stats, flat_obs, samples["mask"].reshape(-1))
    new_state = state.replace(
        params=params, opt_state=opt_state, obs_stats=obs_stats, update_step=state.update_step + 1
    )
    return new_state, metrics


def _evaluate_transitions(state: PPOState, params: Params, mb: Samples) -> tuple[Any, jax.Array]:
    return policy_and_value(state, params, mb["obs"])


def _update(state: PPOState, rollout: Rollout, key: jax.Array) -> tuple[PPOState, dict[str, jax.Array]]:
    rollout, reward_norm = with_normalized_rewards(state, rollout)
    next_values = next_observation_values(lambda obs: state_value(state, obs), rollout.obs, rollout.next_obs,
                                          rollout.extras["value"], rollout.terminated)
    advantages, returns = advantages_and_returns(state, rollout, next_values)
    num_samples = rollout.rewards.size
    samples = {
        "obs": rollout.obs.reshape((num_samples, *rollout.obs.shape[2:])),
        "actions": rollout.actions.reshape((num_samples, *rollout.actions.shape[2:])),
        "log_probs": rollout.extras["log_prob"].reshape(-1),
        "values": rollout.extras["value"].reshape(-1),
        "advantages": advantages.reshape(-1),
        "returns": returns.reshape(-1),
        "mask": rollout.mask.reshape(-1).astype(jnp.float32),
    }
    return optimize(state.replace(reward_norm=reward_norm), samples, key, _evaluate_transitions)


update = jax.jit(_update)
update.__doc__ = """One PPO update on a time-major rollout ``[T, B]`` whose ``extras`` hold ``act``'s
``log_prob`` and ``value`` of every step.

Normalises the rewards (``norm_reward``), takes next-state values of ``rollout.next_obs`` from the
recorded ``value`` of the next step where the env continued and from the critic elsewhere
(:func:`~jaxrl.core.bootstrap.next_observation_values`), then GAE with the current parameters, then
``update_epochs`` epochs of ``num_minibatches`` shuffled minibatches inside ``lax.scan`` (stopping
early past ``target_kl``). Returns the new state and scalar metrics: policy_loss, value_loss, entropy,
approx_kl, clip_fraction, grad_norm, explained_variance, epochs_run, learning_rate, param_norm.
"""


PPO = Agent(init=init, act=act, update=update, sample_noise=sample_noise, init_exploration=no_exploration,
            explore=noise_as_is, initial_carry=no_carry)
"""The feed-forward PPO agent (``PPOConfig(policy="mlp")``)."""

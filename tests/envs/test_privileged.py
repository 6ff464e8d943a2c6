"""Privileged observations for an asymmetric critic, through the Playground adapter for real.

Every Playground env with a ``privileged_state`` loads MuJoCo Menagerie (no network here), so a toy
env with Playground's interface (dict observations, ``reset``/``step``, ``action_size``) stands in
for it in Playground's registry: position ``p`` and step count in ``state``, a hidden per-episode
level ``g`` in ``privileged_state``, reward ``g`` every step.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.agents.registry import get_algorithm
from jaxrl.envs.device import make_device_env
from jaxrl.envs.host import HostVectorEnv, make_vector_env

ENV_ID = "playground/PrivilegedToy"
STATE_SIZE, PRIVILEGED_SIZE, EPISODE_LENGTH = 2, 3, 8


class ToyState(NamedTuple):
    obs: dict
    reward: jax.Array
    done: jax.Array
    data: Any
    info: dict


class ToyConfig(NamedTuple):
    episode_length: int = EPISODE_LENGTH


class PrivilegedToy:
    action_size = 1
    mj_model = None  # rendering is not tested here

    @staticmethod
    def _state(position, steps, level):
        obs = {"state": jnp.stack([position, steps]), "privileged_state": jnp.stack([level, 2 * level, 1.0])}
        return ToyState(obs, level, jnp.float32(0.0), None, {"position": position, "steps": steps, "level": level})

    def reset(self, key):
        return self._state(jnp.float32(0.0), jnp.float32(0.0), jax.random.uniform(key, (), minval=-1, maxval=1))

    def step(self, state, action):
        info = state.info
        return self._state(jnp.clip(info["position"] + action[0], -1, 1), info["steps"] + 1, info["level"])


@pytest.fixture
def toy_registry(monkeypatch):
    registry = pytest.importorskip("mujoco_playground").registry
    monkeypatch.setattr(registry, "ALL_ENVS", (*registry.ALL_ENVS, "PrivilegedToy"))
    monkeypatch.setattr(registry, "get_default_config", lambda name: ToyConfig())
    monkeypatch.setattr(registry, "load", lambda name, config, config_overrides: PrivilegedToy())


def test_the_privileged_entries_end_the_observation_and_the_spec_counts_them(toy_registry):
    env = make_device_env(ENV_ID)
    assert env.spec.observation_shape == (STATE_SIZE + PRIVILEGED_SIZE,)
    assert (env.spec.privileged_size, env.spec.policy_size) == (PRIVILEGED_SIZE, STATE_SIZE)
    _, obs = env.reset(jax.random.PRNGKey(3))
    level = float(obs[STATE_SIZE])
    np.testing.assert_allclose(obs, [0.0, 0.0, level, 2 * level, 1.0])
    # the host loop's envs (one jitted env behind gymnasium) report the same spec
    vector_env = HostVectorEnv(make_vector_env(ENV_ID, 2, "sync"))
    try:
        assert vector_env.spec == env.spec
    finally:
        vector_env.close()


def _ppo(asymmetric: bool):
    config = jaxrl.config_for("ppo", ENV_ID, asymmetric_critic=asymmetric, total_timesteps=256, num_envs=4,
                              num_steps=16, num_minibatches=2, update_epochs=2, progress=False)
    agent = get_algorithm("ppo").agent_for(config)
    return config, agent, agent.init(jax.random.PRNGKey(0), make_device_env(ENV_ID).spec, config)


@pytest.mark.parametrize("asymmetric", [True, False])
def test_only_an_asymmetric_critic_reads_the_privileged_entries(toy_registry, asymmetric):
    from jaxrl.agents.ppo import policy_and_value

    _, _, state = _ppo(asymmetric)
    critic_inputs = STATE_SIZE + PRIVILEGED_SIZE if asymmetric else STATE_SIZE
    assert state.params["actor_trunk"]["Dense_0"]["kernel"].shape[0] == STATE_SIZE
    assert state.params["critic_trunk"]["Dense_0"]["kernel"].shape[0] == critic_inputs
    obs = jnp.asarray([[0.3, 2.0, 0.5, 1.0, 1.0]])
    other_level = obs.at[:, STATE_SIZE:].set(jnp.asarray([-0.7, -1.4, 1.0]))
    (policy, value), (other_policy, other_value) = (policy_and_value(state, state.params, o)
                                                    for o in (obs, other_level))
    np.testing.assert_array_equal(policy.mean, other_policy.mean)  # the policy never sees them
    assert (float(value[0]) != float(other_value[0])) == asymmetric


def test_other_agents_read_only_the_policy_entries(toy_registry):
    config = jaxrl.config_for("td3", ENV_ID, hidden_sizes=(16, 16))
    state = get_algorithm("td3").agent_for(config).init(jax.random.PRNGKey(0), make_device_env(ENV_ID).spec, config)
    assert state.actor_params["MLP_0"]["Dense_0"]["kernel"].shape[0] == STATE_SIZE
    assert state.critic_params["VmapQNetwork_0"]["MLP_0"]["Dense_0"]["kernel"].shape[1] == STATE_SIZE + 1


@pytest.mark.parametrize("loop", ["device", "host"])
def test_an_asymmetric_critic_trains_in_both_loops_and_evaluates(toy_registry, tmp_path, loop):
    config, _, _ = _ppo(True)
    if loop == "device":
        result = jaxrl.run_device("ppo", config, num_seeds=1, run_dir=tmp_path / "run")
        state = result.seed_state()
        loaded = jaxrl.load(tmp_path / "run" / f"seed_{config.seed}").state
    else:
        state = jaxrl.train("ppo", config, run_dir=tmp_path / "run").state
        loaded = jaxrl.load(tmp_path / "run").state
    assert state.params["critic_trunk"]["Dense_0"]["kernel"].shape[0] == STATE_SIZE + PRIVILEGED_SIZE
    np.testing.assert_array_equal(loaded.params["critic_trunk"]["Dense_0"]["kernel"],
                                  state.params["critic_trunk"]["Dense_0"]["kernel"])
    evaluation = jaxrl.evaluate("ppo", state, episodes=4)
    assert evaluation["mean_length"] == EPISODE_LENGTH and np.isfinite(evaluation["mean_return"])


def test_an_asymmetric_critic_without_privileged_observations_is_one_line():
    config = jaxrl.config_for("ppo", "phys2d/CartPole-v1", asymmetric_critic=True)
    with pytest.raises(ValueError, match=r"^asymmetric_critic needs an env with a privileged observation .* "
                                         r"phys2d/CartPole-v1 has none$"):
        get_algorithm("ppo").agent_for(config).init(jax.random.PRNGKey(0), make_device_env(config.env).spec, config)
    with pytest.raises(ValueError, match=r"^asymmetric_critic needs policy='mlp' with separate actor and critic"):
        jaxrl.config_for("ppo", "phys2d/CartPole-v1", asymmetric_critic=True, policy="gru").validate()

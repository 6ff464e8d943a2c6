import dataclasses
import itertools

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from toy_envs import NaNReward

import jaxrl
from jaxrl.agents import ppo
from jaxrl.agents.ppo_config import PPOConfig
from jaxrl.io.checkpoint import list_checkpoints
from jaxrl.loops.device_run import check_finite_pieces
from jaxrl.loops.evaluate import load_run
from jaxrl.loops.guards import TrainingError


def train_ppo(config, run_dir=None):
    return jaxrl.train("ppo", config, run_dir)


def quiet(**overrides):
    return dataclasses.replace(PPOConfig(progress=False), **overrides)


def start_value(env_id):
    """Value of the (only) observation after training the critic on a reward-1-per-step env."""
    config = quiet(env=env_id, gamma=0.9, total_timesteps=24_000, num_envs=8, num_steps=30,
                   update_epochs=10, learning_rate=3e-3, anneal_lr=False, hidden_sizes=(16,))
    state = train_ppo(config).state
    _, value = ppo.policy_and_value(state, state.params, jnp.zeros((1, 1)))
    return float(value[0])


def test_truncation_bootstraps_towards_the_infinite_horizon_value():
    # Reward 1 forever, cut by a 20-step time limit: the true value is 1 / (1 - 0.9) = 10.
    bootstrapped = start_value("jaxrl_test/ConstantReward-v0")
    # The same env reporting the time limit as termination: mean of the partial sums is about 6.
    as_terminal = start_value("jaxrl_test/ConstantRewardAsTermination-v0")
    assert abs(bootstrapped - 10.0) < 1.0, bootstrapped
    assert as_terminal < 7.5, as_terminal


def test_ppo_learns_cartpole_far_beyond_random():
    result = train_ppo(quiet(total_timesteps=20_000, seed=3))
    # A random policy averages about 22 steps; the default config passes 100 well within 20k steps.
    assert result.history[-1]["episodic_return"] > 100
    assert result.history[0]["episodic_return"] < 60


def test_continuous_ppo_learns_to_track_the_target():
    config = quiet(env="jaxrl_test/ContinuousTarget-v0", total_timesteps=16_384, num_envs=8, num_steps=64,
                   num_minibatches=4, update_epochs=10, learning_rate=3e-3, gamma=0.99, log_std_init=-0.5)
    result = train_ppo(config)
    # The initial policy (mean ~0, std e^-0.5) scores E[-(a - x)^2] = -(e^-1 + 1/3) ~ -0.70.
    assert result.history[-1]["episodic_return"] > -0.15
    assert jaxrl.evaluate("ppo", result.state, episodes=50, deterministic=True)["mean_return"] > -0.05


def test_checkpoint_round_trip_gives_identical_actions(tmp_path):
    result = train_ppo(quiet(total_timesteps=2048, checkpoint_every=2), tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(16, 4)), jnp.float32)
    for noise in (None, ppo.sample_noise(result.state, jax.random.PRNGKey(7), (16,))):
        a, extras_a, _ = ppo.act(result.state, obs, noise)
        b, extras_b, _ = ppo.act(loaded.state, obs, noise)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(extras_a["value"], extras_b["value"])
    assert int(loaded.state.update_step) == int(result.state.update_step) == 8
    assert len(list_checkpoints(tmp_path / "run")) == 3  # keep_checkpoints


def test_non_finite_loss_stops_without_writing_the_bad_checkpoint(tmp_path):
    config = quiet(env="jaxrl_test/NaNReward-v0", num_envs=1, num_steps=64, total_timesteps=640,
                   checkpoint_every=1, check_env_finite=False)  # let the NaN reach the loss
    with pytest.raises(TrainingError, match=r"update 2: (policy|value)_loss is nan"):
        train_ppo(config, tmp_path / "run")
    saved = list_checkpoints(tmp_path / "run")
    assert [p.name for p in saved] == ["ckpt_000000000064.msgpack"]  # only the good first update


def test_target_return_stops_early():
    result = train_ppo(quiet(total_timesteps=100_000, target_return=60.0))
    assert "target return 60.0 reached" in result.history[-1]["stop_reason"]
    assert result.history[-1]["env_steps"] < 100_000


def test_finite_check_allows_a_skipped_delayed_actor_but_not_divergence():
    from jaxrl.agents.registry import get_algorithm
    from jaxrl.loops.guards import check_finite_metrics

    td3, ppo_entry = get_algorithm("td3"), get_algorithm("ppo")

    def check(metrics, where, entry):
        check_finite_metrics(metrics, where, entry.finite_metrics, entry.nan_allowed)

    check({"critic_loss": 0.3, "actor_loss": float("nan")}, "record 1", td3)  # no actor step this interval
    with pytest.raises(TrainingError, match="record 2: critic_loss is nan"):
        check({"critic_loss": float("nan"), "actor_loss": float("nan")}, "record 2", td3)
    with pytest.raises(TrainingError, match="record 3: actor_loss is inf"):
        check({"critic_loss": 0.3, "actor_loss": float("inf")}, "record 3", td3)
    with pytest.raises(TrainingError, match="update 4: policy_loss is nan"):
        check({"policy_loss": float("nan"), "value_loss": 1.0}, "update 4", ppo_entry)
    with pytest.raises(TrainingError, match="update 5: param_norm is inf"):  # finite losses, diverged parameters
        check({"policy_loss": 0.1, "value_loss": 1.0, "param_norm": float("inf")}, "update 5", ppo_entry)


def test_device_loop_guard_names_seed_and_record_and_skips_records_without_updates():
    from jaxrl.agents.registry import get_algorithm

    nan = float("nan")
    metrics = {"env_steps": np.array([[100, 200], [100, 200]]), "updates": np.array([[0, 5], [0, 5]]),
               "critic_loss": np.array([[nan, 0.5], [nan, nan]]), "actor_loss": np.array([[nan, 0.1], [nan, 0.1]])}
    with pytest.raises(TrainingError, match=r"seed 8, record 4: critic_loss is nan"):
        check_finite_pieces(metrics, 2, "record", np.array([7, 8]), get_algorithm("td3"))  # record 3: no update
    metrics["critic_loss"][1, 1] = 0.4
    check_finite_pieces(metrics, 2, "record", np.array([7, 8]), get_algorithm("td3"))


def test_env_returning_nan_is_named_by_its_index(tmp_path):
    from jaxrl.envs.host import NonFiniteEnvError

    _env_counter = itertools.count()
    gym.register(id="jaxrl_test/NaNInThirdEnv-v0",
                 entry_point=lambda: NaNReward(nan_after=5) if next(_env_counter) == 2 else NaNReward(nan_after=10**9))
    config = quiet(env="jaxrl_test/NaNInThirdEnv-v0", num_envs=4, num_steps=16, total_timesteps=128)
    with pytest.raises(NonFiniteEnvError, match=r"env 2 returned a non-finite reward: .*nan"):
        train_ppo(config, tmp_path / "run")


def test_the_host_loop_traces_its_agent_at_the_configured_matmul_precision():
    """The host loop's agent functions trace in the loop's body: it runs inside the config's precision."""
    from jaxrl.agents.registry import get_algorithm
    from jaxrl.loops.host import host_run

    config = quiet(total_timesteps=2 * 8 * 32, matmul_precision="highest")
    with host_run(get_algorithm("ppo"), config, None, "update", 64, False) as run:
        assert jax.config.jax_default_matmul_precision == "highest"
        lowered = ppo.update.lower(run.state, *_rollout_and_key(run))
        assert "precision = [HIGHEST, HIGHEST]" in lowered.as_text()
    assert jax.config.jax_default_matmul_precision is None  # restored once the run ends


def _rollout_and_key(run):
    """A random rollout shaped like the run's (4 steps of its envs) and a key."""
    from jaxrl.types import Rollout

    steps, envs = 4, run.env.num_envs
    obs = jnp.zeros((steps, envs, *run.env.spec.observation_shape))
    zeros = jnp.zeros((steps, envs))
    rollout = Rollout(obs=obs, actions=jnp.zeros((steps, envs), jnp.int32),
                      extras={"log_prob": zeros, "value": zeros}, rewards=zeros,
                      terminated=zeros.astype(bool), truncated=zeros.astype(bool), next_obs=obs, mask=zeros + 1)
    return rollout, jax.random.PRNGKey(0)


def test_off_policy_records_average_metrics_over_updates_leaving_out_nan_but_not_inf():
    from jaxrl.loops.host_off_policy import mean_metrics

    updates = [{"loss": jnp.float32(1.0), "alpha": jnp.float32(np.nan), "q": jnp.float32(2.0)},
               {"loss": jnp.float32(4.0), "alpha": jnp.float32(np.nan), "q": jnp.float32(np.inf)},
               {"loss": jnp.float32(np.nan), "alpha": jnp.float32(np.nan), "q": jnp.float32(3.0)}]
    means = mean_metrics(updates)
    assert means["loss"] == 2.5  # (1 + 4) / 2: the NaN update has no value
    assert np.isnan(means["alpha"])  # no update gave one
    assert means["q"] == np.inf  # a diverging value is not hidden
    assert all(type(value) is float for value in means.values())
    assert mean_metrics([]) == {}


def test_a_policy_with_a_sample_seed_acts_as_in_training_reproducibly():
    """Greedy by default; with ``sample_seed`` the agent's sampled actions (how Atari is evaluated),
    the same for the same seed and call sequence, and another seed draws others."""
    from jaxrl.envs.spec import spec_from_spaces
    from jaxrl.loops.evaluate import Policy

    config = PPOConfig(hidden_sizes=(16,))
    agent = jaxrl.agent_for("ppo", config)
    spec = spec_from_spaces(gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2))
    state = agent.init(jax.random.PRNGKey(0), spec, config)
    obs = np.random.default_rng(0).uniform(-1, 1, (512, 4)).astype(np.float32)
    greedy = Policy(agent, state)(obs)
    np.testing.assert_array_equal(greedy, Policy(agent, state)(obs))
    first, second = (Policy(agent, state, sample_seed=5) for _ in range(2))
    draws = [first(obs), first(obs)]
    np.testing.assert_array_equal(draws[0], second(obs))  # the same seed, the same first call
    assert not np.array_equal(draws[0], draws[1])  # the next call draws afresh
    assert not np.array_equal(draws[0], Policy(agent, state, sample_seed=6)(obs))
    # an untrained policy is near 50/50 per observation, so its samples leave its argmax often
    assert 0.2 < np.mean(draws[0] != greedy) < 0.8


def test_a_loaded_atari_run_plays_as_jaxrl_eval_does_unless_asked_for_greedy_actions():
    """A greedy Atari agent idles after a lost life, so ``run.policy`` samples there (seed 0), as
    ``jaxrl eval`` does; elsewhere, and with ``deterministic=True``, it is greedy."""
    from jaxrl.loops.evaluate import LoadedRun
    from jaxrl.types import EnvSpec

    spec = EnvSpec(observation_shape=(84, 84, 4), discrete=True, action_dim=4, observation_dtype="uint8")
    config = jaxrl.config_for("ppo", "ALE/Breakout-v5", conv_channels=(4,), conv_kernels=(8,), conv_strides=(8,),
                              hidden_sizes=(8,))
    state = jaxrl.agent_for("ppo", config).init(jax.random.PRNGKey(0), spec, config)
    obs = np.random.default_rng(0).integers(0, 255, (256, 84, 84, 4)).astype(np.uint8)
    run = LoadedRun("ppo", config, state, None)
    policy = run.policy
    played, again = policy(obs), policy(obs)
    assert not np.array_equal(played, again)  # sampled, a fresh draw each call ...
    np.testing.assert_array_equal(played, run.policy_for(None, sample_seed=0)(obs))  # ... from seed 0
    greedy = run.policy_for(None, deterministic=True)
    np.testing.assert_array_equal(greedy(obs), greedy(obs))
    elsewhere = LoadedRun("ppo", dataclasses.replace(config, env="jaxrl_test/BrightSide-v0"), state, None).policy
    np.testing.assert_array_equal(elsewhere(obs), greedy(obs))


def test_a_policy_given_the_observation_space_takes_raw_observations_one_or_a_batch():
    from jaxrl.envs.spec import observation_to_array, spec_from_spaces
    from jaxrl.loops.evaluate import Policy

    space = gym.spaces.Dict({"count": gym.spaces.Box(0.0, 100.0, (1,), np.float32), "phase": gym.spaces.Discrete(3)})
    config = jaxrl.config_for("td3", "jaxrl_test/DictCounter-v0", hidden_sizes=(8,))
    agent = jaxrl.agent_for("td3", config)  # continuous actions: equal actions mean equal inputs
    spec = spec_from_spaces(space, gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    state = agent.init(jax.random.PRNGKey(0), spec, config)
    raw = {"count": np.array([[1.0], [7.0], [2.0]], np.float32), "phase": np.array([1, 2, 0])}
    encoded = observation_to_array(space, raw)
    expected = Policy(agent, state)(encoded)
    raw_policy = Policy(agent, state, space)
    np.testing.assert_array_equal(raw_policy(raw), expected)
    assert len(np.unique(expected[:, 0])) == 3
    np.testing.assert_allclose(raw_policy({"count": np.array([7.0], np.float32), "phase": 2}), expected[1], rtol=1e-5)
    for wrong in (raw, np.zeros((3, 3), np.float32), 2):
        with pytest.raises(ValueError, match=r"as the networks see them, \[B, \*\(4,\)\] or \(4,\); .* give it "
                                             r"the env's observation_space: run.policy_for\(space\)"):
            Policy(agent, state)(wrong)

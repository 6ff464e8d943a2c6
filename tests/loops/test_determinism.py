"""Same seed and config: bit-identical results; different seeds: different; jitted functions traced once."""

import dataclasses

import jax
import numpy as np

from jaxrl.agents import ppo as ppo_agent
from jaxrl.agents.ppo import PPOConfig
from jaxrl.api import make_train, train
from jaxrl.core.sequence_replay import sequence_add
from jaxrl.loops.acting import jitted_explore_and_act

HOST = PPOConfig(env="CartPole-v1", total_timesteps=1024, num_envs=4, num_steps=64, update_epochs=2,
                 num_minibatches=2, progress=False)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_host_loop_is_bit_identical_for_one_seed_and_differs_across_seeds(tmp_path):
    first = train("ppo", HOST, tmp_path / "a")
    second = train("ppo", HOST, tmp_path / "b")
    other = train("ppo", dataclasses.replace(HOST, seed=2))
    for x, y in zip(_leaves(first.state), _leaves(second.state), strict=True):
        np.testing.assert_array_equal(x, y)
    # Byte for byte (wall-clock time and SPS go to timing.jsonl).
    assert (tmp_path / "a" / "metrics.jsonl").read_bytes() == (tmp_path / "b" / "metrics.jsonl").read_bytes()
    assert not np.array_equal(_leaves(first.state.params)[0], _leaves(other.state.params)[0])


def test_device_loop_is_bit_identical_for_one_key():
    config = dataclasses.replace(HOST, env="phys2d/CartPole-v1")
    train_fn = jax.jit(make_train("ppo", config))
    first, second = train_fn(jax.random.PRNGKey(3)), train_fn(jax.random.PRNGKey(3))
    for x, y in zip(_leaves(first), _leaves(second), strict=True):
        np.testing.assert_array_equal(x, y)


def test_host_loop_traces_act_and_update_once_per_run():
    step = jitted_explore_and_act(ppo_agent.PPO)
    step.clear_cache()
    ppo_agent.update.clear_cache()
    result = train("ppo", HOST)
    assert len(result.history) == HOST.num_updates > 1
    # One compiled version each: no re-tracing from changing shapes, dtypes or static values.
    assert step._cache_size() == 1
    assert ppo_agent.update._cache_size() == 1


def test_recurrent_host_loop_traces_act_once_per_run():
    from jaxrl.agents import recurrent_ppo

    step = jitted_explore_and_act(recurrent_ppo.RECURRENT_PPO)
    step.clear_cache()
    config = dataclasses.replace(HOST, policy="lstm", lstm_hidden_size=8, seq_len=16)
    result = train("ppo", config)
    assert len(result.history) == config.num_updates > 1
    # The first rollout starts from the initial carry, later steps from carries act returned:
    # both must be the same jit signature (same committed device), or act compiles twice.
    assert step._cache_size() == 1


def test_off_policy_step_compiles_only_its_schedule_variants(monkeypatch):
    from jaxrl.agents.td3 import TD3Config
    from jaxrl.loops import host_off_policy

    built = []
    original = host_off_policy.make_off_policy_step
    monkeypatch.setattr(host_off_policy, "make_off_policy_step", lambda *a: built.append(original(*a)) or built[-1])
    # jit wrappers of one function share its compilation cache, so count what this run adds
    adds_before = jax.jit(sequence_add, donate_argnums=0)._cache_size()
    train("td3", TD3Config(env="Pendulum-v1", total_timesteps=600, learning_starts=200, log_every=200,
                           batch_size=32, hidden_sizes=(16, 16), progress=False))
    # (do_update, do_act): random phase (F, F), first policy step (F, T), learning (T, T), and the last step
    # acts too, its actions unused (T, T): steps without an update are one program (do_act F/T), steps with
    # one are the add and one update-and-act (a variant without acting, for the last step alone, took ~2 s).
    programs = built[0].programs
    assert programs["add_and_act"]._cache_size() == 2
    assert programs["add"]._cache_size() - adds_before == 1
    assert programs["update_and_act"]._cache_size() == 1

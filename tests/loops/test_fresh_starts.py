"""Where the device loop's on-policy rollouts draw the start states of episodes that end in them
(``fresh_starts``): at every step from that step's reset key, or once per rollout from the key the
first step's reset would take."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.agents.registry import get_algorithm
from jaxrl.envs.device import step_keys, with_autoreset
from jaxrl.loops.device import init_actor, scan_rollout
from jaxrl.types import EnvSpec

NUM_ENVS, NUM_STEPS = 6, 12


def short_episodes_env():
    """Episodes of 1-3 steps (so envs end several times in one rollout); the observation is
    ``[steps left, a start label drawn at reset]``: the label tells which reset started an episode."""
    spec = EnvSpec(observation_shape=(2,), discrete=True, action_dim=2)

    def raw_reset(key):
        length_key, label_key = jax.random.split(key)
        left = jax.random.randint(length_key, (), 1, 4)
        label = jax.random.uniform(label_key)
        return (left, label), jnp.stack([left.astype(jnp.float32), label])

    def raw_step(state, action, key):
        left, label = state
        left = left - 1
        return (left, label), jnp.stack([left.astype(jnp.float32), label]), jnp.float32(1.0), left <= 0

    return with_autoreset("test/ShortEpisodes", spec, 100, raw_reset, raw_step)


def rollout(fresh_starts: str):
    env = short_episodes_env()
    config = jaxrl.config_for("ppo", "CartPole-v1", num_envs=NUM_ENVS, num_steps=NUM_STEPS)
    agent = get_algorithm("ppo").agent_for(config)
    state = agent.init(jax.random.PRNGKey(0), env.spec, config)
    actor = init_actor(agent, state, env, jax.random.PRNGKey(1), NUM_ENVS, None)
    noise = agent.sample_noise(state, jax.random.PRNGKey(2), (NUM_STEPS, NUM_ENVS))
    env_keys = step_keys(jax.random.PRNGKey(3), (NUM_STEPS, NUM_ENVS))
    _, steps = jax.jit(lambda: scan_rollout(agent, env, state, actor, noise, env_keys, fresh_starts=fresh_starts))()
    return env, env_keys, steps


def restarted_observations(steps) -> tuple[np.ndarray, np.ndarray]:
    """``(ended [T-1, B], first [T-1, B, 2])`` over the rollout's first ``T-1`` steps: whether the
    step ended an episode, and the observation the env acted on at the following step (after an end,
    the new episode's first). The last step's successor is not in the rollout."""
    ended = np.asarray(steps.terminated | steps.truncated)[:-1]
    return ended, np.asarray(steps.obs)[1:]


def test_rollout_starts_come_from_one_reset_per_env_drawn_with_the_first_steps_key():
    env, env_keys, steps = rollout("rollout")
    ended, next_first = restarted_observations(steps)
    assert (ended.sum(axis=0) >= 2).any()  # some env restarted twice in the rollout
    _, starts = jax.vmap(env.reset)(env_keys[0, :, 1])
    for t, b in zip(*np.nonzero(ended), strict=True):
        np.testing.assert_array_equal(next_first[t, b], starts[b])
    # the final observation is still the step's own (one step left -> none left)
    np.testing.assert_array_equal(np.asarray(steps.next_obs)[..., 0][np.asarray(steps.terminated)], 0)


def test_step_starts_come_from_each_steps_own_reset_key():
    env, env_keys, steps = rollout("step")
    ended, next_first = restarted_observations(steps)
    for t, b in zip(*np.nonzero(ended), strict=True):
        np.testing.assert_array_equal(next_first[t, b], env.reset(env_keys[t, b, 1])[1])


def test_both_draws_give_the_same_steps_until_an_episode_ends():
    _, _, per_step = rollout("step")
    _, _, per_rollout = rollout("rollout")
    first_end = int(np.argmax(np.asarray(per_step.terminated).any(axis=1)))
    for field in ("obs", "actions", "rewards", "terminated", "next_obs"):
        np.testing.assert_array_equal(np.asarray(getattr(per_step, field))[:first_end + 1],
                                      np.asarray(getattr(per_rollout, field))[:first_end + 1])


def test_an_unknown_draw_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^fresh_starts must be one of \['rollout', 'step'\], got 'episode'$"):
        jaxrl.config_for("ppo", "CartPole-v1", fresh_starts="episode").validate()


def off_policy_record(fresh_starts: str):
    """One metrics record (``NUM_STEPS`` vector steps, no updates yet) of DQN's device program on the
    short-episodes env: ``(env, carry before, carry after)``."""
    from jaxrl.loops.device import make_off_policy_program

    env = short_episodes_env()
    config = jaxrl.config_for("dqn", "CartPole-v1", num_envs=NUM_ENVS, log_every=NUM_ENVS * NUM_STEPS,
                              total_timesteps=10 * NUM_ENVS * NUM_STEPS, learning_starts=10 * NUM_ENVS * NUM_STEPS,
                              buffer_size=1_000, fresh_starts=fresh_starts)
    program = make_off_policy_program(get_algorithm("dqn").agent_for(config), config, env)
    before = jax.jit(program.init)(jax.random.PRNGKey(0))
    after, _ = jax.jit(program.step)(before, jnp.int32(0))
    return env, before, after


def restarts_in_buffer(carry) -> list[np.ndarray]:
    """Per env, ``[restarts, 2]``: the first observation of each episode that began inside the record
    (in the replay's time-ordered rows, the step row after each final-observation row)."""
    buffer = carry.buffer
    starts = []
    for env in range(NUM_ENVS):
        rows = int(buffer.filled[env])  # the record did not wrap the buffer around
        after_final = ~np.asarray(buffer.is_step[: rows - 1, env]) & np.asarray(buffer.is_step[1:rows, env])
        starts.append(np.asarray(buffer.steps.obs)[1:rows, env][after_final])
    return starts


def test_replay_records_draw_each_envs_start_once_from_the_runs_key():
    env, before, after = off_policy_record("rollout")
    restarts = restarts_in_buffer(after)
    assert max(map(len, restarts)) >= 2  # some env restarted twice in the record
    key, starts_key = jax.random.split(before.key)
    _, starts = jax.vmap(env.reset)(jax.random.split(starts_key, NUM_ENVS))
    for env_index, firsts in enumerate(restarts):
        for first in firsts:
            np.testing.assert_array_equal(first, starts[env_index])


def test_replay_records_drawing_per_step_restart_from_new_states():
    _, _, after = off_policy_record("step")
    twice = [firsts for firsts in restarts_in_buffer(after) if len(firsts) >= 2]
    assert twice
    # an env restarted more than once starts from different states (start labels are uniform draws)
    assert all(len(np.unique(firsts[:, 1])) > 1 for firsts in twice)

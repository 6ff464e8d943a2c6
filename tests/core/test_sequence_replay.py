"""The time-ordered replay against a plain-Python model of each env's rows: random episodes,
skipped envs, cuts and wrap-around; every complete item is drawn, uniformly, and nothing else."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core import sequence_replay as sr
from jaxrl.types import Transition

add = jax.jit(sr.sequence_add)
cut = jax.jit(sr.sequence_cut)
sample = jax.jit(sr.sequence_sample, static_argnums=2)


def model_items(rows, pending, open_, n, history=0):
    """Complete items of one env's kept ``rows`` (dicts, oldest first): (obs, rewards, nstep, next_obs, term, trunc)."""
    items = []
    for i, row in enumerate(rows):
        if row["kind"] != "step" or i < history:  # (a stack needs its older frames' rows)
            continue
        horizon = None
        for k in range(1, n + 1):
            if i + k - 1 >= len(rows):
                break
            if rows[i + k - 1]["ends"] or k == n:
                horizon = k
                break
        if horizon is None:
            continue
        last = rows[i + horizon - 1]
        next_obs = rows[i + horizon]["obs"] if i + horizon < len(rows) else (pending if open_ else None)
        assert next_obs is not None
        rewards = [rows[i + j]["reward"] for j in range(horizon)] + [0.0] * (n - horizon)
        items.append((row["obs"], tuple(rewards) if n > 1 else rewards[0], horizon, next_obs, last["term"],
                      last["trunc"]))
    return items


class Model:
    """Each env's row stream as the buffer lays it out, kept to the newest ``rows_per_env`` rows."""

    def __init__(self, num_envs, rows_per_env, n, history=0):
        self.rows = [[] for _ in range(num_envs)]
        self.pending = [None] * num_envs
        self.open = [False] * num_envs
        self.limit, self.n, self.history = rows_per_env, n, history

    def add(self, e, obs, reward, term, trunc, next_obs):
        if not self.open[e]:  # a segment starts: with frame stacks, its first stack's older frames go first
            self.rows[e] += [dict(kind="frame", ends=True)] * self.history
        self.rows[e].append(dict(kind="step", obs=obs, reward=reward, term=term, trunc=trunc, ends=term or trunc))
        if term or trunc:
            self.rows[e].append(dict(kind="final", obs=next_obs, ends=True))
        self.pending[e], self.open[e] = next_obs, not (term or trunc)
        self.rows[e] = self.rows[e][-self.limit:]

    def cut(self):
        for e, rows in enumerate(self.rows):
            if self.open[e]:
                rows[-1]["ends"] = True
                rows.append(dict(kind="final", obs=self.pending[e], ends=True))
                self.rows[e] = rows[-self.limit:]
                self.open[e] = False

    def items(self):
        return [item for e in range(len(self.rows))
                for item in model_items(self.rows[e], self.pending[e], self.open[e], self.n, self.history)]


def drawn(buffer, draws, seed):
    got = sample(buffer, jax.random.PRNGKey(seed), draws)
    rewards = np.asarray(got.rewards).tolist()
    nstep = np.asarray(got.extras["nstep"]).tolist() if "nstep" in got.extras else [1] * draws
    return list(zip(np.asarray(got.obs[:, 0]).tolist(), [tuple(r) if isinstance(r, list) else r for r in rewards],
                    nstep, np.asarray(got.next_obs[:, 0]).tolist(), np.asarray(got.terminated).tolist(),
                    np.asarray(got.truncated).tolist()))


@pytest.mark.parametrize("n, num_envs, capacity", [(1, 3, 30), (3, 2, 24), (4, 1, 9)])
def test_random_episodes_match_the_model_and_draws_are_uniform(n, num_envs, capacity):
    rng = np.random.default_rng(n)
    obs = np.arange(num_envs, dtype=np.float32) * 1000  # each env's current observation id
    next_id = 1.0
    buffer = sr.sequence_init(capacity, Transition(
        obs=np.zeros((num_envs, 1), np.float32), actions=np.zeros(num_envs, np.int32),
        rewards=np.zeros(num_envs, np.float32), terminated=np.zeros(num_envs, bool),
        truncated=np.zeros(num_envs, bool), next_obs=np.zeros((num_envs, 1), np.float32), extras={}), n)
    model = Model(num_envs, sr.rows_per_env(capacity, num_envs), n)
    checked = 0
    for t in range(60):
        if t == 40:
            buffer, _ = cut(buffer), model.cut()
        term, trunc = rng.random(num_envs) < 0.1, rng.random(num_envs) < 0.1
        keep = rng.random(num_envs) < 0.85
        next_obs = obs + next_id + np.arange(num_envs) * 1000
        next_id += 1
        rewards = rng.normal(size=num_envs).astype(np.float32).round(3)
        buffer = add(buffer, Transition(obs=obs[:, None], actions=np.zeros(num_envs, np.int32), rewards=rewards,
                                        terminated=term, truncated=trunc, next_obs=next_obs[:, None], extras={}),
                     keep)
        for e in np.flatnonzero(keep):
            model.add(e, float(obs[e]), float(rewards[e]), bool(term[e]), bool(trunc[e]), float(next_obs[e]))
        ended = keep & (term | trunc)
        obs = np.where(keep, np.where(ended, next_obs + 0.5, next_obs), obs)  # a reset obs after an episode
        expected = collections.Counter(model.items())
        if t in (5, 25, 45, 59) and expected:  # (a nearly empty buffer has no complete item to draw)
            checked += 1
            counts = collections.Counter(item for seed in range(8) for item in drawn(buffer, 1000, seed))
            assert set(counts) == set(expected)
            mean = sum(counts.values()) / len(expected)
            # uniform: every item within 6 standard deviations of the mean count
            assert all(abs(count - mean) < 6 * mean ** 0.5 + 1 for count in counts.values()), counts
    assert checked >= 3


def test_memory_holds_each_observation_once():
    example = Transition(obs=np.zeros((2, 4, 84, 84), np.uint8), actions=np.zeros(2, np.int32),
                         rewards=np.zeros(2, np.float32), terminated=np.zeros(2, bool), truncated=np.zeros(2, bool),
                         next_obs=np.zeros((2, 4, 84, 84), np.uint8), extras={})
    buffer = jax.eval_shape(lambda: sr.sequence_init(100_001, example))
    allocated = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(buffer))
    assert allocated == sr.sequence_bytes(100_001, example)
    rows = 2 * 50_001  # ceil(100_001 / 2) per env
    assert allocated == rows * (4 * 84 * 84 + 4 + 4 + 2 + 2) + 2 * (4 * 84 * 84 + 9)  # half a flat buffer's
    with pytest.raises(ValueError, match=r"^buffer_size \(9\) must hold 5 steps per env \(num_envs=2\) for n_step=3: at least 10$"):
        sr.sequence_init(9, example, 3)
    frames = example.replace(obs=np.zeros((1, 84, 84, 4), np.uint8), rewards=np.zeros(1, np.float32))
    with pytest.raises(ValueError, match=r"must hold 9 steps per env \(num_envs=1\) for n_step=1 and 4 stacked frames"):
        sr.sequence_init(8, frames, 1, frame_stack=4)


@pytest.mark.parametrize("algorithm, env_id", [("sac", "Pendulum-v1"), ("dqn", "CartPole-v1")])
def test_the_host_loops_step_programs_never_copy_a_large_buffer(algorithm, env_id):
    """Adding and updating in one program made XLA fuse the sample's gather with the write and copy
    buffer leaves (18 MB of temporaries for 1M SAC items); no program's temporaries may grow with
    the buffer, and the add writes in place."""
    import jaxrl
    from jaxrl.envs.host import host_env_for
    from jaxrl.loops.acting import example_transition
    from jaxrl.loops.host_off_policy import make_off_policy_step

    config = jaxrl.config_for(algorithm, env_id, buffer_size=1_000_000, num_envs=1, progress=False)
    env = host_env_for(config)
    spec = env.spec
    env.close()
    agent = jaxrl.agent_for(algorithm, config)
    state = agent.init(jax.random.PRNGKey(0), spec, config)
    obs = jax.ShapeDtypeStruct((1, *spec.observation_shape), jnp.float32)
    exploration = jax.eval_shape(agent.init_exploration, state, 1)
    example = example_transition(agent, state, obs, None, exploration)
    flags, keys = jax.ShapeDtypeStruct((1,), bool), jax.random.split(jax.random.PRNGKey(0))
    iteration = jnp.asarray(0, jnp.int32)
    programs = make_off_policy_step(agent).programs
    arguments = {"add_and_act": (state, None, example, flags, obs, keys, iteration, exploration, flags),
                 "update_and_act": (state, None, obs, keys, iteration, exploration, flags)}

    def temporaries(name, capacity):
        buffer = jax.eval_shape(lambda: sr.sequence_init(capacity, example))
        args = tuple(buffer if arg is None else arg for arg in arguments[name])
        return programs[name].lower(*args, do_act=True).compile().memory_analysis().temp_size_in_bytes

    for name in arguments:
        assert temporaries(name, 1_000_000) - temporaries(name, 1_000) < 10_000, name
    buffer = jax.eval_shape(lambda: sr.sequence_init(1_000_000, example))
    add = programs["add"].lower(buffer, example, flags).compile().memory_analysis()
    assert add.alias_size_in_bytes >= sr.sequence_bytes(1_000_000, example) - 1_000
    assert add.temp_size_in_bytes < 10_000


class FrameStacker:
    """One env's frame stack as gymnasium's FrameStackObservation keeps it, padded at reset with
    the first frame (``"reset"``) or with zeros: ``[2, 2, 3]`` frames of one value each."""

    def __init__(self, padding):
        self.padding, self.frames = padding, None

    def reset(self, frame):
        pad = frame if self.padding == "reset" else 0.0
        self.frames = [pad, pad, frame]
        return self.stack()

    def step(self, frame):
        self.frames = self.frames[1:] + [frame]
        return self.stack()

    def stack(self):
        return np.broadcast_to(np.asarray(self.frames, np.float32), (2, 2, 3))


@pytest.mark.parametrize("padding", ["reset", "zero"])
def test_frame_stacks_are_rebuilt_from_one_frame_a_row_exactly_as_the_env_gave_them(padding):
    num_envs, n, capacity = 2, 2, 40
    rng = np.random.default_rng(7)
    stackers = [FrameStacker(padding) for _ in range(num_envs)]
    frame_ids = iter(range(1, 10_000))
    obs = np.stack([stacker.reset(float(next(frame_ids))) for stacker in stackers])
    example = Transition(obs=obs, actions=np.zeros(num_envs, np.int32), rewards=np.zeros(num_envs, np.float32),
                         terminated=np.zeros(num_envs, bool), truncated=np.zeros(num_envs, bool), next_obs=obs,
                         extras={"id": np.zeros(num_envs, np.int32)})
    buffer = sr.sequence_init(capacity, example, n, frame_stack=3)
    assert buffer.steps.obs.shape == (20, num_envs, 2, 2)  # one frame a row
    model = Model(num_envs, sr.rows_per_env(capacity, num_envs), n, history=2)
    truth = {}  # step id -> (obs, next_obs) as the env gave them
    checked = 0
    for t in range(70):
        term, trunc, keep = rng.random(num_envs) < 0.12, rng.random(num_envs) < 0.12, rng.random(num_envs) < 0.9
        next_obs = np.stack([stacker.step(float(next(frame_ids))) for stacker in stackers])
        ids = np.arange(num_envs, dtype=np.int32) + 100 * t
        rewards = rng.normal(size=num_envs).astype(np.float32).round(3)
        buffer = add(buffer, Transition(obs=obs, actions=np.zeros(num_envs, np.int32), rewards=rewards,
                                        terminated=term, truncated=trunc, next_obs=next_obs, extras={"id": ids}), keep)
        following = next_obs.copy()
        for e in np.flatnonzero(keep):
            truth[int(ids[e])] = (obs[e], next_obs[e])
            model.add(e, int(ids[e]), float(rewards[e]), bool(term[e]), bool(trunc[e]), 0.0)  # (next obs: truth)
            if term[e] or trunc[e]:
                following[e] = stackers[e].reset(float(next(frame_ids)))
        if t == 45:  # a run resumed here: the open episodes are cut and every env restarts
            buffer, _ = cut(buffer), model.cut()
            following = np.stack([stacker.reset(float(next(frame_ids))) for stacker in stackers])
            keep[:] = True
        obs = np.where(keep[:, None, None, None], following, obs)
        if not keep.all():  # a skipped env did not step: its stack stays where it was
            for e in np.flatnonzero(~keep):
                stackers[e].frames = list(obs[e, 0, 0])
        expected = {item[0]: item for item in model.items()}
        if t in (10, 30, 50, 69) and expected:
            checked += 1
            got = sample(buffer, jax.random.PRNGKey(t), 4000)
            got_ids = np.asarray(got.extras["id"])
            assert set(got_ids.tolist()) == set(expected)
            for index, item_id in enumerate(got_ids[:400]):
                item = expected[int(item_id)]
                np.testing.assert_array_equal(got.obs[index], truth[int(item_id)][0])
                assert int(got.extras["nstep"][index]) == item[2]
                np.testing.assert_allclose(got.rewards[index], item[1])
                # the next observation: the one after the horizon's last step, as the env gave it
                last_id = int(item_id) + 100 * (item[2] - 1)
                if last_id in truth:
                    np.testing.assert_array_equal(got.next_obs[index], truth[last_id][1])
    assert checked >= 3


def test_a_batch_short_of_complete_draws_repeats_them_all_in_turn():
    """One-step episodes with 3-frame stacks: 4 of every 5 rows are not steps, so a batch of 64 (128
    draws) finds ~26 complete ones; it repeats them in order, not one item 40 times."""
    obs = np.zeros((1, 2, 3), np.float32)
    step = Transition(obs=obs, actions=np.zeros(1, np.int32), rewards=np.zeros(1, np.float32),
                      terminated=np.ones(1, bool), truncated=np.zeros(1, bool), next_obs=obs,
                      extras={"id": np.zeros(1, np.int32)})
    buffer = sr.sequence_init(500, step, 1, frame_stack=3)
    for t in range(100):
        buffer = add(buffer, step.replace(extras={"id": np.full(1, t, np.int32)}))
    ids = np.asarray(sample(buffer, jax.random.PRNGKey(0), 64).extras["id"])
    counts = collections.Counter(ids.tolist())
    assert 15 < len(counts) < 40 and max(counts.values()) <= 4, counts

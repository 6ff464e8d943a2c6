import gymnasium as gym
import numpy as np
import pytest

from jaxrl.envs.host import EnvCreationError, HostVectorEnv, make_vector_env
from jaxrl.envs.spec import (
    UnsupportedSpaceError,
    observation_to_array,
    spec_from_spaces,
    stack_observations,
    uniform_actions_numpy,
)


def run_counter(vectorization, steps):
    env = HostVectorEnv(make_vector_env("jaxrl_test/Counter-v0", 2, vectorization))
    obs = env.reset(seed=0)
    rows = []
    for _ in range(steps):
        step = env.step(np.zeros(2, np.int64))
        rows.append((obs[:, 0].copy(), step.next_obs[:, 0].copy(), step.rewards.copy(), step.truncated.copy(),
                     step.valid.copy()))
        obs = step.obs
    env.close()
    return rows


def test_same_step_autoreset_reports_the_true_final_observation():
    rows = run_counter("sync", 4)
    obs, next_obs, rewards, truncated, valid = zip(*rows)
    np.testing.assert_array_equal([o[0] for o in obs], [0, 1, 2, 0])  # reset right after the 3rd step
    np.testing.assert_array_equal([n[0] for n in next_obs], [1, 2, 3, 1])  # 3 is the final obs
    np.testing.assert_array_equal([t[0] for t in truncated], [False, False, True, False])
    assert all(v.all() for v in valid)


def test_next_step_autoreset_masks_the_reset_step_and_matches_same_step():
    same = [row for row in run_counter("sync", 8)]
    next_rows = run_counter("vector_entry_point", 8)
    valid_next = [row for row in next_rows if row[4].all()]
    ignored = [row for row in next_rows if not row[4].any()]
    assert len(ignored) == 2  # one ignored reset step after each of the two episodes
    np.testing.assert_array_equal([r[2] for r in ignored], [[0, 0], [0, 0]])  # reward 0 on those steps
    # Every real transition is identical in both modes.
    for a, b in zip(same, valid_next):
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)


def test_continuous_actions_are_clipped_for_the_env_only():
    env = HostVectorEnv(make_vector_env("Pendulum-v1", 1, "sync"))
    np.testing.assert_array_equal(env.env_actions(np.array([[5.0]])), [[2.0]])
    np.testing.assert_array_equal(env.env_actions(np.array([[-0.5]])), [[-0.5]])
    env.close()


def test_discrete_observations_are_one_hot():
    env = HostVectorEnv(make_vector_env("FrozenLake-v1", 2, "sync"))
    obs = env.reset(seed=0)
    assert obs.shape == (2, 16) and np.all(obs.sum(1) == 1) and obs[0, 0] == 1
    env.close()


def test_other_observation_spaces_flatten_row_by_row_as_gymnasium_does():
    spaces = gym.spaces
    space = spaces.Dict({
        "position": spaces.Box(-1, 1, (2, 3)),
        "grid": spaces.MultiDiscrete([[2, 3], [4, 1]], start=[[1, 0], [-2, 5]]),
        "flags": spaces.MultiBinary(3),
        "inner": spaces.Tuple((spaces.Discrete(4, start=2), spaces.Box(0, 255, (2,), np.uint8))),
    }, seed=0)
    batched = gym.vector.utils.batch_space(space, 5)
    batch = batched.sample()
    expected = np.stack([spaces.flatten(space, obs) for obs in gym.vector.utils.iterate(batched, batch)])
    encoded = observation_to_array(space, batch)
    assert encoded.dtype == np.float32 and encoded.shape == (5, 6 + (2 + 3 + 4 + 1) + 3 + (4 + 2))
    np.testing.assert_array_equal(encoded, expected)
    assert spec_from_spaces(space, spaces.Discrete(2)).observation_shape == (spaces.flatdim(space),)
    singles = list(gym.vector.utils.iterate(batched, batch))
    np.testing.assert_array_equal(observation_to_array(space, stack_observations(space, singles)), encoded)


def test_a_dict_observation_keeps_its_true_final_observation():
    env = HostVectorEnv(make_vector_env("jaxrl_test/DictCounter-v0", 2, "sync"))
    assert env.spec.observation_shape == (4,)  # count, then phase one-hot
    obs = env.reset(seed=0)
    np.testing.assert_array_equal(obs[0], [0, 1, 0, 0])
    for _ in range(3):
        step = env.step(np.zeros(2, np.int64))
    assert step.truncated.all()
    np.testing.assert_array_equal(step.next_obs[0], [3, 1, 0, 0])  # the final {count: 3, phase: 0}
    np.testing.assert_array_equal(step.obs[0], [0, 1, 0, 0])  # the reset one
    env.close()


def test_multi_discrete_and_multi_binary_actions_are_one_categorical_per_component():
    spaces = gym.spaces
    box = spaces.Box(-1, 1, (2,))
    multi = spec_from_spaces(box, spaces.MultiDiscrete([3, 2, 4]))
    assert (multi.discrete, multi.action_dim, multi.action_nvec, multi.action_shape) == (True, 9, (3, 2, 4), (3,))
    binary = spec_from_spaces(box, spaces.MultiBinary(5))
    assert (binary.action_dim, binary.action_nvec, binary.action_shape) == (10, (2,) * 5, (5,))
    assert spec_from_spaces(box, spaces.Discrete(4)).action_shape == ()
    with pytest.raises(UnsupportedSpaceError, match="MultiDiscrete action spaces must start at 0"):
        spec_from_spaces(box, spaces.MultiDiscrete([3, 2], start=[1, 0]))
    actions = uniform_actions_numpy(multi, np.random.default_rng(0), 4000)
    assert actions.shape == (4000, 3) and (actions >= 0).all() and (actions.max(axis=0) == [2, 1, 3]).all()


def test_unknown_env_id_is_named():
    with pytest.raises(EnvCreationError, match="unknown environment id 'NoSuchEnv-v9'"):
        make_vector_env("NoSuchEnv-v9", 1)


def test_an_env_that_fails_to_import_is_named_with_its_reason():
    with pytest.raises(EnvCreationError, match=r"environment 'jaxrl_test/Moved-v0' cannot be created here: these "
                                               r"environments have moved to another project \(https://example.org\)"):
        make_vector_env("jaxrl_test/Moved-v0", 2)


def test_a_box2d_env_without_box2d_names_jaxrls_extra_beside_gymnasiums(hide_module, monkeypatch):
    import sys

    for name in [name for name in sys.modules if name.startswith("gymnasium.envs.box2d")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, as on a machine without Box2D
    hide_module("Box2D")
    with pytest.raises(EnvCreationError) as error:
        make_vector_env("LunarLander-v3", 1)
    message = str(error.value)
    assert message.startswith("could not create 'LunarLander-v3' with vectorization='sync': Box2D is not installed")
    assert message.endswith(" (or: pip install 'jaxrl[box2d]')") and "\n" not in message


@pytest.mark.parametrize("env_id, message", [
    ("jaxrl_test/TextObs-v0", "unsupported observation space Text"),
    ("jaxrl_test/GridMultiDiscreteAction-v0", "unsupported action space MultiDiscrete"),
    ("jaxrl_test/UnboundedBox-v0", "infinite bounds"),
])
def test_unsupported_spaces_say_what_is_supported(env_id, message):
    env = make_vector_env(env_id, 1)
    with pytest.raises(UnsupportedSpaceError, match=message):
        HostVectorEnv(env)
    env.close()


def test_spec_of_box_actions_records_bounds():
    spec = spec_from_spaces(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-2.0, 2.0, (2,)))
    assert spec.observation_shape == (3,) and not spec.discrete and spec.action_dim == 2
    assert spec.action_low == (-2.0, -2.0) and spec.action_high == (2.0, 2.0)


class ShapeShifter(gym.Env):
    """Declares observations of shape (2,), returns shape (3,) from its third step on."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2 if self.t < 3 else 3, np.float32), 0.0, False, False, {}


def test_an_observation_of_the_wrong_shape_names_the_env_and_the_shapes():
    from gymnasium.vector import AutoresetMode

    from jaxrl.envs.host import EnvObservationError

    envs = [ShapeShifter, ShapeShifter]
    env = HostVectorEnv(gym.vector.SyncVectorEnv([lambda cls=cls: cls() for cls in envs],
                                                 autoreset_mode=AutoresetMode.SAME_STEP))
    env.reset(seed=0)
    env.step(np.zeros(2, np.int64))
    env.step(np.zeros(2, np.int64))
    with pytest.raises(EnvObservationError, match=r"env 0 returned an observation of shape \(3,\); its observation "
                                                  r"space says \(2,\)"):
        env.step(np.zeros(2, np.int64))
    env.close()

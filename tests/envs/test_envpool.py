"""vectorization="envpool": built through envpool.make with the config's seed; its NEXT_STEP autoreset
is handled like any env's own vector env. A stand-in module plays envpool (the real one is an
optional extra with large assets)."""

import sys
import types

import numpy as np
import pytest
from toy_envs import counter_next_step_vector_env

from jaxrl.envs.host import EnvCreationError, host_env_for, make_vector_env


class GymnasiumEnvPoolMixin:
    """Named like envpool's mixin: its envs take the seed in make() and ignore reset(seed=...)."""


def _fake_envpool(calls):
    def make(env_id, env_type, num_envs, seed, **kwargs):
        calls.append({"env_id": env_id, "env_type": env_type, "num_envs": num_envs, "seed": seed})
        if env_id != "Counter-v0":
            raise ValueError(f"{env_id} is not registered in EnvPool")
        env = counter_next_step_vector_env(num_envs)
        original_reset = env.reset

        def reset(seed=None, options=None):
            calls.append({"reset_seed": seed})
            return original_reset(seed=seed, options=options)

        env.reset = reset
        env.__class__ = type("CounterEnvPool", (type(env), GymnasiumEnvPoolMixin), {})
        return env

    return types.SimpleNamespace(make=make)


def test_envpool_mode_seeds_at_creation_and_masks_the_reset_step(monkeypatch):
    from jaxrl.agents.ppo import PPOConfig

    calls = []
    monkeypatch.setitem(sys.modules, "envpool", _fake_envpool(calls))
    env = host_env_for(PPOConfig(env="Counter-v0", num_envs=2, vectorization="envpool", seed=7))
    try:
        assert calls[0] == {"env_id": "Counter-v0", "env_type": "gymnasium", "num_envs": 2, "seed": 7}
        env.reset(seed=123)
        assert calls[-1] == {"reset_seed": None}  # the seed was given to make(); reset(seed=...) is not passed on
        valid = [env.step(np.zeros(2, np.int64)).valid.copy() for _ in range(5)]
    finally:
        env.close()
    # Counter truncates after 3 steps; the 4th step is the NEXT_STEP reset step: not a transition.
    np.testing.assert_array_equal(np.stack(valid)[:, 0], [True, True, True, False, True])


def test_envpool_errors_name_the_problem(monkeypatch):
    monkeypatch.setitem(sys.modules, "envpool", _fake_envpool([]))
    with pytest.raises(EnvCreationError, match="envpool could not create 'Nope-v0'"):
        make_vector_env("Nope-v0", 2, "envpool")
    monkeypatch.setitem(sys.modules, "envpool", None)  # as if not installed
    with pytest.raises(EnvCreationError, match=r"needs the envpool package: pip install 'jaxrl\[envpool\]'"):
        make_vector_env("CartPole-v1", 2, "envpool")

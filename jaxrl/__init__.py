"""jaxrl: PPO, DDPG, TD3 and SAC in JAX, on gymnasium envs (host loop) or JAX envs (device loop)."""

from jaxrl.core.gae import discounted_returns, gae
from jaxrl.types import EnvSpec, Rollout, Transition

__version__ = "0.1.0"

__all__ = [
    "EnvSpec",
    "Rollout",
    "Transition",
    "__version__",
    "config_for",
    "discounted_returns",
    "evaluate",
    "gae",
    "make_train",
    "train",
]


def config_for(algorithm: str, env: str, **overrides):
    """The preset config of ``algorithm`` ("ppo", "ddpg", "td3", "sac") for ``env``, with overrides."""
    from jaxrl.presets import preset_config
    from jaxrl.registry import get_algorithm

    return preset_config(get_algorithm(algorithm).config_cls, env, algorithm, **overrides)


def train(algorithm: str, config, run_dir=None, resume: bool = False):
    """Train ``algorithm`` with the host loop; returns ``TrainResult(state, history, run_dir)``.
    ``resume=True`` continues the run in ``run_dir`` from its latest checkpoint."""
    from jaxrl.registry import train as train_algorithm

    return train_algorithm(algorithm, config, run_dir, resume=resume)


def make_train(algorithm: str, config, mesh=None):
    """The device loop's pure ``train(key, hparams=None)`` for ``algorithm`` on a JAX env
    (``jax.jit(jax.vmap(train))(keys)`` trains one run per key); see :mod:`jaxrl.loops.device`."""
    from jaxrl.loops.device import make_train as make_device_train

    return make_device_train(algorithm, config, mesh)


def evaluate(algorithm: str, state, episodes: int = 20, deterministic: bool = True, seed: int = 10_000) -> dict:
    """Mean/std of raw returns over ``episodes`` fresh episodes of ``state.config.env``."""
    from jaxrl.loops.evaluate import evaluate as run_episodes
    from jaxrl.registry import agent_for

    return run_episodes(agent_for(algorithm, state.config), state, state.config.env, episodes, deterministic,
                        seed).summary()

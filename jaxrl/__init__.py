"""jaxrl: PPO, DDPG, TD3 and SAC in JAX, on gymnasium envs (host loop) or JAX envs (device loop)."""

from jaxrl.core.gae import discounted_returns, gae
from jaxrl.types import EnvSpec, Rollout

__version__ = "0.1.0"

__all__ = ["EnvSpec", "Rollout", "discounted_returns", "gae", "__version__"]

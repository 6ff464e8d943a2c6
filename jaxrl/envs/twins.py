"""One task under several ids: gymnasium's env for the host loop and its JAX ports for the device loop.

Presets are keyed by env id, so each agent gives a task's preset to all of its ids. gymnax's ports
follow gymnasium's dynamics, rewards and time limits (gymnax's CartPole is also the device-loop base of
``jaxrl/CartPole-NoVel-v1``). gymnasium's own ``phys2d/CartPole-v1`` computes its pole's
mass-length as ``masspole + length`` (0.6, not 0.05), so its dynamics differ a little; the presets
learn on it all the same (README, "Learning").

gymnasium's MuJoCo envs (v4 and v5 of each) are many tasks, not one, but they share a preset the way
CleanRL and RL Baselines3 Zoo give them one set of settings.
"""

from __future__ import annotations

CARTPOLE_IDS = ("CartPole-v1", "phys2d/CartPole-v1", "gymnax/CartPole-v1")
PENDULUM_IDS = ("Pendulum-v1", "phys2d/Pendulum-v0", "gymnax/Pendulum-v1")
ACROBOT_IDS = ("Acrobot-v1", "gymnax/Acrobot-v1")
MOUNTAIN_CAR_IDS = ("MountainCar-v0", "gymnax/MountainCar-v0")
MUJOCO_IDS = tuple(f"{name}-v{version}" for name in (
    "Ant", "HalfCheetah", "Hopper", "Humanoid", "HumanoidStandup", "InvertedDoublePendulum", "InvertedPendulum",
    "Pusher", "Reacher", "Swimmer", "Walker2d") for version in (4, 5))

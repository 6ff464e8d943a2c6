"""Atari 2600 games (the Arcade Learning Environment, ``ALE/<Game>-v5``) in the host loop.

gymnasium registers the ``ALE/`` ids only once ``ale_py`` is imported; jaxrl imports it when asked for
one (extra ``atari``). Each env then gets the preprocessing of the DQN and PPO papers as CleanRL and
SB3 run it: up to 30 no-op actions at reset, every 4th frame (the max of the last two, against
flicker), 84x84 grayscale, the last 4 frames stacked. v5's sticky actions (a 25% chance of repeating
the previous action) stay on, as Machado et al. (2018) recommend. Observations are uint8 ``[84, 84, 4]``
pixels, channels last for the conv torso: rollouts and replay buffers hold them as bytes (28 KB a
frame stack, a quarter of float32's) and the networks read them scaled to ``[0, 1]``. Life losses do not end episodes,
and rewards reach the learner raw unless the config clips them (PPO's Atari preset does); the
reported returns are always the game's score.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

PREFIX = "ALE/"
FRAME_SKIP = 4  # emulator frames per agent step
FRAME_STACK = 4  # observations stacked per agent step
SCREEN_SIZE = 84  # pixels per side after resizing
NOOP_MAX = 30  # most no-op actions at the start of an episode
MAX_EPISODE_FRAMES = 108_000  # v5's cap (30 minutes of play), a truncation
# envpool's Atari envs (--vectorization envpool) set to the same protocol: its defaults differ (no sticky
# actions, FIRE pressed after every reset)
ENVPOOL_PROTOCOL: dict[str, Any] = {
    "repeat_action_probability": 0.25, "use_fire_reset": False, "episodic_life": False, "reward_clip": False,
    "noop_max": NOOP_MAX, "frame_skip": FRAME_SKIP, "stack_num": FRAME_STACK, "img_height": SCREEN_SIZE,
    "img_width": SCREEN_SIZE, "gray_scale": True, "max_episode_steps": MAX_EPISODE_FRAMES // FRAME_SKIP,
}


def is_atari_id(env_id: str) -> bool:
    """Whether ``env_id`` names an ALE game (``ALE/Breakout-v5``)."""
    return env_id.startswith(PREFIX)


def stacked_frames(env_id: str, observation_shape: tuple[int, ...]) -> int:
    """How many frames ``env_id``'s observations stack on their last axis: an ALE game's (jaxrl's
    preprocessing or envpool's, ``[84, 84, 4]``), so that a replay can store each frame once; 0 for
    any other env."""
    return observation_shape[-1] if is_atari_id(env_id) and len(observation_shape) == 3 else 0


def evaluated_stochastically(env_id: str) -> bool:
    """Whether agents on ``env_id`` are evaluated acting as they explore rather than greedily: the ALE
    games, where a greedy agent that does not press FIRE after a lost life idles until the 108k-frame
    cap (RL Zoo evaluates Atari stochastically too)."""
    return is_atari_id(env_id)


def register_atari_ids(env_id: str) -> None:
    """Import ``ale_py`` so that gymnasium knows the ``ALE/`` ids; ``ValueError`` in one line naming the
    extra where it is missing (or the real cause where it is installed but fails to import)."""
    if env_id in gym.registry:
        return
    try:
        import ale_py
    except ModuleNotFoundError as err:
        if err.name == "ale_py":
            what = "the Atari ids (ALE/<Game>-v5) need" if env_id == PREFIX else f"{env_id!r} needs"
            raise ValueError(f"{what} ale-py: pip install 'jaxrl[atari]'") from None
        raise ValueError(f"ale_py is installed but does not import: {err}") from None
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no version banner on stderr for every env
    gym.register_envs(ale_py)


def preprocess_atari(env: gym.Env) -> gym.Env:
    """``env`` (made with ``frameskip=1``) as the agent sees it: no-op starts, frame skipping with max
    pooling, 84x84 grayscale, 4 frames stacked channels last, uint8. ``ValueError`` in
    one line where OpenCV (gymnasium's resize) is missing."""
    try:
        env = gym.wrappers.AtariPreprocessing(env, noop_max=NOOP_MAX, frame_skip=FRAME_SKIP, screen_size=SCREEN_SIZE,
                                              terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False)
    except gym.error.DependencyNotInstalled:
        raise ValueError("Atari preprocessing resizes frames with OpenCV: pip install 'jaxrl[atari]'") from None
    stacked = gym.wrappers.FrameStackObservation(env, FRAME_STACK)
    space = gym.spaces.Box(0, 255, (SCREEN_SIZE, SCREEN_SIZE, FRAME_STACK), np.uint8)
    return gym.wrappers.TransformObservation(stacked, channels_last, space)


def channels_last(frames: Any) -> np.ndarray:
    """``[4, 84, 84]`` stacked frames -> ``[84, 84, 4]``, the layout the conv torso reads."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(frames, np.uint8), 0, -1))


def envpool_task(env_id: str) -> str:
    """envpool's name of an ALE game: ``ALE/Breakout-v5`` -> ``Breakout-v5``."""
    return env_id.removeprefix(PREFIX)


def envpool_channels_last(env: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
    """envpool's stacked frames ``[B, 4, 84, 84]`` as the conv torso reads them, ``[B, 84, 84, 4]``."""
    single = gym.spaces.Box(0, 255, (SCREEN_SIZE, SCREEN_SIZE, FRAME_STACK), np.uint8)
    return gym.wrappers.vector.TransformObservation(
        env, lambda frames: np.ascontiguousarray(np.moveaxis(np.asarray(frames), 1, -1)),
        gym.vector.utils.batch_space(single, env.num_envs), single)


def quiet_atari_env(**kwargs: Any) -> gym.Env:
    """ale-py's ``AtariEnv(**kwargs)`` with ALE's logger set to errors first: the entry point of
    :func:`quiet_atari_spec`, so each async worker process does not print ALE's version banner."""
    import ale_py
    from ale_py.env import AtariEnv

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    return AtariEnv(**kwargs)


def quiet_atari_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """gymnasium's spec of the ALE id ``env_id`` (registered) made through :func:`quiet_atari_env`."""
    spec = gym.spec(env_id)
    return dataclasses.replace(spec, entry_point=quiet_atari_env) if spec.entry_point == "ale_py.env:AtariEnv" \
        else spec


def atari_make_kwargs(env_id: str) -> dict[str, Any]:
    """What :func:`gymnasium.make_vec` needs for ``env_id``: the emulator stepping every frame, and the
    preprocessing wrapper; empty for any other id."""
    if not is_atari_id(env_id):
        return {}
    register_atari_ids(env_id)
    return {"frameskip": 1, "wrappers": [preprocess_atari]}

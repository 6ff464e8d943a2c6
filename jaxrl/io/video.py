"""Rendering for ``jaxrl eval``: frames written as GIF (Pillow, via imageio) or MP4 (needs
imageio-ffmpeg), or a live window (``--render``). Everything a render needs is checked before
the first frame, so a missing writer or display costs one line, not an episode. And
``--capture-video``: :class:`EpisodeVideos` writes episodes of a training env as they end."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from jaxrl.envs.suites import headless_mujoco_rendering

VIDEO_SUFFIXES = (".gif", ".mp4")
VIDEO_DIR = "videos"  # --capture-video's folder in the run dir


def check_video_path(path: Path) -> None:
    """``ValueError`` in one line if frames could not be written to ``path``."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--video must end in .gif or .mp4, got {path.name!r}")
    if not path.parent.is_dir():
        raise ValueError(f"--video {path}: the folder {path.parent} does not exist")
    if path.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg

            imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            raise ValueError("writing MP4 needs imageio-ffmpeg: pip install 'jaxrl[video]' (or write a .gif)") \
                from None


def prepare_rendering(render_mode: str) -> None:
    """Quiet pygame/SDL (gymnasium's renderer) before an env renders: no sound device is
    opened (ALSA errors on headless machines) and ``rgb_array`` frames render off-screen (no
    ``XDG_RUNTIME_DIR`` warning, no display needed; MuJoCo's on EGL where Linux has no display).
    ``human`` needs a display: ``ValueError`` in one line where there is none. Variables the user
    set are left as they are."""
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if render_mode == "rgb_array":
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        headless_mujoco_rendering()  # gymnasium's MuJoCo envs (Hopper-v5) render through MuJoCo
    elif sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ValueError("--render opens a window, but this machine has no display (DISPLAY and WAYLAND_DISPLAY "
                         "are unset); write the episode with --video out.gif instead")


def write_video(frames: list[np.ndarray], path: Path, fps: int = 30) -> None:
    """``frames``: ``[H, W, 3]`` uint8 arrays. The suffix picks the format (.gif or .mp4)."""
    import imageio.v2 as imageio

    path = Path(path)
    check_video_path(path)
    if not frames:
        raise ValueError("no frames to write: the env returned no rgb_array frames")
    frames = [np.asarray(f, np.uint8) for f in frames]
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps)


def capped_cubic(episode: int) -> bool:
    """Whether episode ``episode`` (0-based) is recorded: the cubes below 1000 (0, 1, 8, 27, ..., 729), then
    every 1000th (gymnasium's ``RecordVideo`` default, which CleanRL's ``--capture-video`` uses)."""
    return round(episode ** (1 / 3)) ** 3 == episode if episode < 1000 else episode % 1000 == 0


def video_suffix() -> str:
    """``.mp4`` where imageio-ffmpeg can write it (the ``video`` extra), else ``.gif``."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
        return ".mp4"
    except (ImportError, RuntimeError):
        return ".gif"


ATARI_FRAMES_PER_S = 60  # the 2600's NTSC frame rate


def video_fps(env: gym.Env) -> int:
    """Frames per second that play one filmed frame per env step in real time: the env's ``render_fps``
    (a MuJoCo env's already counts its frame skip), but for an Atari game 60 over the frames each step
    skips (ALE's ``render_fps`` of 30 played jaxrl's 4-frame steps at 2x)."""
    if type(env.unwrapped).__module__.startswith("ale_py"):
        try:
            return max(1, round(ATARI_FRAMES_PER_S / env.get_wrapper_attr("frame_skip")))
        except AttributeError:  # ALE's own frame skip, not a preprocessing wrapper's
            pass
    return int(env.metadata.get("render_fps") or 30)


def check_renders(env: gym.Env, seed: int) -> None:
    """Reset ``env`` (seeded) and render one frame, so a renderer that is missing or fails is one
    ``ValueError`` line before a run starts (its run dir not yet made), not an error at its first episode."""
    try:
        env.reset(seed=seed)
        frame = env.render()
    except (gym.error.Error, ImportError, OSError, RuntimeError) as err:
        raise ValueError(f"capture_video: {env.spec.id if env.spec else 'the env'} cannot render: {err}") from None
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise ValueError(f"capture_video needs rgb_array frames; the env rendered {type(frame).__name__}")


class EpisodeVideos(gym.Wrapper):
    """Writes the episodes of one ``rgb_array``-rendering env that ``trigger`` picks (by their index in this
    process, from 0) to ``directory`` as ``env_step_<S>.<gif|mp4>`` as each ends, ``S`` the run's env step at
    the episode's first frame: env 0 of a vector of ``num_envs`` that the loops reset with ``seed=run_seed +
    env_steps``, so a resumed run names its videos on from where it resumed and replaces none. An episode
    still running at ``close`` is written as far as it went."""

    def __init__(self, env: gym.Env, directory: Path, num_envs: int, run_seed: int,
                 trigger: Callable[[int], bool] = capped_cubic):
        super().__init__(env)
        self.directory, self.num_envs, self.run_seed, self.trigger = Path(directory), num_envs, run_seed, trigger
        self.suffix, self.fps = video_suffix(), video_fps(env)
        self.episode, self.first_step, self.steps = -1, 0, 0  # steps: this env's since the last seeded reset
        self.start_step = 0  # the run's env step at the current episode's first frame
        self.frames: list[np.ndarray] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self._write()  # an episode the loop cut short (a reset before its end) is kept as far as it went
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.first_step, self.steps = seed - self.run_seed, 0
        self.episode += 1
        self.start_step = self.first_step + self.steps * self.num_envs
        self.frames = [self.env.render()] if self.trigger(self.episode) else None
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.frames is not None:
            self.frames.append(self.env.render())
            if terminated or truncated:
                self._write()
        return obs, reward, terminated, truncated, info

    def _write(self) -> None:
        if self.frames:
            self.directory.mkdir(parents=True, exist_ok=True)
            path, copy = self.directory / f"env_step_{self.start_step}{self.suffix}", 1
            while path.exists():  # the same steps run again after a resume from an earlier checkpoint
                copy += 1
                path = self.directory / f"env_step_{self.start_step}_{copy}{self.suffix}"
            write_video(self.frames, path, self.fps)
        self.frames = None

    def close(self) -> None:
        self._write()
        super().close()


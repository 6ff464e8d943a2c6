"""Rendering for ``jaxrl eval``: frames written as GIF (Pillow, via imageio) or MP4 (needs
imageio-ffmpeg), or a live window (``--render``). Everything a render needs is checked before
the first frame, so a missing writer or display costs one line, not an episode."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from jaxrl.envs.suites import headless_mujoco_rendering

VIDEO_SUFFIXES = (".gif", ".mp4")


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

"""Write rendered frames as GIF (Pillow, via imageio) or MP4 (needs imageio-ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(frames: list[np.ndarray], path: Path, fps: int = 30) -> None:
    """``frames``: ``[H, W, 3]`` uint8 arrays. The suffix picks the format (.gif or .mp4)."""
    import imageio.v2 as imageio

    path = Path(path)
    if not frames:
        raise ValueError("no frames to write: the env returned no rgb_array frames")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        imageio.mimsave(path, [np.asarray(f, np.uint8) for f in frames], duration=1000 / fps, loop=0)
    elif suffix == ".mp4":
        try:
            imageio.mimsave(path, [np.asarray(f, np.uint8) for f in frames], fps=fps)
        except (ImportError, ValueError, RuntimeError) as err:
            raise ValueError(f"writing MP4 needs imageio-ffmpeg (pip install 'jaxrl[video]'): {err}") from None
    else:
        raise ValueError(f"--video must end in .gif or .mp4, got {path.name!r}")

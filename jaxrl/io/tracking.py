"""Weights & Biases tracking (``--track``, extra ``wandb``), as CleanRL offers it.

The same scalars and tags as TensorBoard go to one W&B run per run dir, against
``global_step`` (env steps). The W&B run id is kept in ``DIR/wandb_run_id``, so a resumed run
continues the same W&B run; its records past the checkpoint that was resumed from are logged
again (W&B cannot delete points), TensorBoard's and ``metrics.jsonl``'s are not. W&B's own files
go to ``DIR/wandb/``; ``wandb_mode="offline"`` needs no network (``wandb sync DIR/wandb/...``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from jaxrl.io.video import VIDEO_DIR

RUN_ID_FILE = "wandb_run_id"


def import_wandb() -> Any:
    """wandb, or a one-line ``ValueError`` saying how to install it."""
    try:
        import wandb
    except ImportError:
        raise ValueError("--track logs to Weights & Biases, which is not installed: pip install 'jaxrl[wandb]'") \
            from None
    return wandb


class WandbTracker:
    """One W&B run fed with ``log(scalars, env_steps)``; ``ValueError`` in one line when wandb
    is not installed."""

    def __init__(self, run_dir: Path, algorithm: str, config: Any, config_dict: dict[str, Any]):
        wandb = import_wandb()
        id_file = Path(run_dir) / RUN_ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:12]
        id_file.write_text(run_id + "\n")
        self._run = wandb.init(project=config.wandb_project, entity=config.wandb_entity, mode=config.wandb_mode,
                               id=run_id, resume="allow", name=Path(run_dir).name, dir=str(run_dir),
                               config={"algorithm": algorithm, **config_dict}, reinit="create_new")
        self._run.define_metric("global_step")
        self._run.define_metric("*", step_metric="global_step")
        # --capture-video's files, uploaded as they appear (CleanRL's monitor_gym); those of before a resume
        # were uploaded by the run that wrote them
        self._videos = Path(run_dir) / VIDEO_DIR if config.capture_video else None
        self._uploaded = set(self._videos.iterdir()) if self._videos is not None and self._videos.is_dir() else set()
        self._last_step = 0

    def log(self, scalars: dict[str, float], env_steps: int) -> None:
        self._run.log({**scalars, "global_step": env_steps})
        self._upload_videos(env_steps)

    def _upload_videos(self, env_steps: int) -> None:
        self._last_step = env_steps
        if self._videos is not None and self._videos.is_dir():
            import wandb

            for path in sorted(set(self._videos.iterdir()) - self._uploaded):
                self._run.log({"videos": wandb.Video(str(path), format=path.suffix[1:]), "global_step": env_steps})
                self._uploaded.add(path)

    def close(self) -> None:
        self._upload_videos(self._last_step)  # the episode the run ended in, written as the envs closed
        self._run.finish()

"""--capture-video: env 0's episodes on CleanRL's schedule, written as each ends, named by the run's env step."""

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest
from toy_envs import ConstantReward

from jaxrl.cli import main
from jaxrl.io.video import EpisodeVideos, capped_cubic


def test_the_schedule_is_the_cubes_below_1000_then_every_1000th():
    assert [episode for episode in range(3001) if capped_cubic(episode)] == \
        [0, 1, 8, 27, 64, 125, 216, 343, 512, 729, 1000, 2000, 3000]


class Countdown(ConstantReward):
    """Episodes of ``length`` steps that terminate; each frame is a 2x3 image filled with 40 x the step count."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, length=3):
        super().__init__(length, "terminated")

    def render(self):
        return np.full((2, 3, 3), self.t * 40, np.uint8)


def test_chosen_episodes_are_written_whole_and_named_by_the_runs_env_step(tmp_path):
    # env 0 of 4: the loop resets it with seed run_seed + env_steps, and each of its steps is 4 env steps
    env = EpisodeVideos(Countdown(), tmp_path, num_envs=4, run_seed=7, trigger=lambda episode: episode in (0, 2))
    for _ in range(3):
        env.reset(seed=7 if env.episode < 0 else None)
        done = False
        while not done:
            done = env.step(0)[2]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["env_step_0.gif", "env_step_24.gif"]
    frames = imageio.mimread(tmp_path / "env_step_24.gif")
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 40, 80, 120]  # the reset frame, then every step's
    env.trigger = lambda episode: True
    env.reset(seed=7 + 1000)  # a resumed run resets at its checkpoint's env steps: its names go on from there
    env.step(0)
    env.close()  # an episode still running is written as far as it went
    assert [int(frame[0, 0, 0]) for frame in imageio.mimread(tmp_path / "env_step_1000.gif")] == [0, 40]
    again = EpisodeVideos(Countdown(), tmp_path, num_envs=4, run_seed=7)
    again.reset(seed=7)
    again.close()  # the same steps again (a resume from an earlier checkpoint) replace no video
    assert (tmp_path / "env_step_0_2.gif").is_file() and len(imageio.mimread(tmp_path / "env_step_0.gif")) == 4


def test_the_cli_films_env_0_during_training(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "ppo", "--env", "CartPole-v1", "--num-envs", "2", "--num-steps", "64", "--total-timesteps",
                 "512", "--update-epochs", "1", "--capture-video", "--no-progress", "--run-dir", str(run_dir)]) == 0
    videos = sorted((run_dir / "videos").iterdir(), key=lambda path: int(path.stem.split("_")[2]))
    assert videos[0].name == "env_step_0.gif" and len(videos) >= 2  # episodes 0 and 1 at least
    frames = imageio.mimread(videos[0])
    assert len(frames) > 5 and frames[0].shape[:2] == (400, 600)  # CartPole's own 600x400 rendering
    assert main(["train", "ppo", "--env", "CartPole-v1", "--overwrite", "--no-progress", "--run-dir", str(run_dir),
                 "--total-timesteps", "64", "--num-envs", "2", "--num-steps", "32"]) == 0
    assert not (run_dir / "videos").exists()  # --overwrite removes the videos with the rest of the run's files


@pytest.mark.parametrize("argv, message", [
    (["--env", "CartPole-v1", "--vectorization", "async"], "capture_video records env 0 of sync envs, not "
                                                           "vectorization='async'"),
    (["--env", "phys2d/CartPole-v1"], "capture_video records the host loop's gymnasium env; a device-loop run's "
                                      "agent is filmed after training: jaxrl eval RUN_DIR/seed_1 --video"),
])
def test_capture_video_where_it_cannot_record_is_one_line(argv, message, capsys, tmp_path):
    assert main(["train", "ppo", *argv, "--capture-video", "--no-progress", "--run-dir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_an_env_that_cannot_render_is_one_line_before_the_run_dir_is_made(monkeypatch, capsys, tmp_path):
    """Without pygame (a core install) the run made its run dir and failed at its first episode."""
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    def render(self):
        raise gym.error.DependencyNotInstalled('pygame is not installed, run `pip install "gymnasium[classic-control]"`')

    monkeypatch.setattr(CartPoleEnv, "render", render)
    assert main(["train", "ppo", "--env", "CartPole-v1", "--capture-video", "--no-progress", "--run-dir",
                 str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err == ("jaxrl: error: capture_video: CartPole-v1 cannot render: pygame is not "
                                       'installed, run `pip install "gymnasium[classic-control]"`\n')
    assert not (tmp_path / "run").exists()


def test_videos_play_one_env_step_per_frame_in_real_time():
    """ALE says 30 fps, but jaxrl's Atari steps are 4 of the 2600's 60 frames a second: 15 steps a second."""
    pytest.importorskip("ale_py")
    from jaxrl.envs.host import make_vector_env
    from jaxrl.io.video import video_fps

    atari = make_vector_env("ALE/Pong-v5", 1, render_mode="rgb_array")
    try:
        assert video_fps(atari.envs[0]) == 15
    finally:
        atari.close()
    assert video_fps(gym.make("CartPole-v1")) == 50  # its own render_fps: one frame per 0.02 s step


def test_the_api_asks_for_a_run_dir():
    import jaxrl

    with pytest.raises(ValueError, match="^capture_video writes the videos into the run dir: give a run_dir$"):
        jaxrl.train("ppo", jaxrl.config_for("ppo", "CartPole-v1", capture_video=True))

"""Async env workers that raise, die or hang give an error naming the env, within a bounded time."""

import time

import numpy as np
import pytest

from jaxrl.agents.ppo import PPOConfig
from jaxrl.api import train
from jaxrl.envs.host import EnvWorkerError, HostVectorEnv, make_vector_env


def _step_until_failure(mode: str, timeout: float | None = None) -> tuple[EnvWorkerError, float]:
    """Reset a 4-env async vector env with seed 0 (env 2 is the failing one) and step it."""
    env = HostVectorEnv(make_vector_env(f"jaxrl_test/Failing-{mode}-v0", 4, "async"), step_timeout=timeout)
    start = time.perf_counter()
    try:
        env.reset(seed=0)
        with pytest.raises(EnvWorkerError) as caught:
            for _ in range(10):
                env.step(np.zeros(4, np.int64))
    finally:
        env.close()
    return caught.value, time.perf_counter() - start


def test_exception_in_a_worker_names_the_env_and_the_original_error():
    error, _ = _step_until_failure("raise")
    assert "env 2 raised RuntimeError: simulated env failure at step 3" in str(error)
    assert isinstance(error.__cause__, RuntimeError)


@pytest.mark.parametrize("mode, how", [("exit", "exit code 3"), ("sigkill", "killed by SIGKILL")])
def test_a_worker_that_dies_hard_is_named_without_hanging(mode, how):
    error, elapsed = _step_until_failure(mode)  # no timeout set: death itself must be detected
    assert f"the worker process of env 2 ({how}) died during step" in str(error)
    assert elapsed < 20


def test_a_hanging_env_hits_the_step_timeout():
    error, elapsed = _step_until_failure("hang", timeout=1.0)
    assert "env 2 did not finish its step within 1.0 s (env_step_timeout)" in str(error)
    assert elapsed < 20  # closing does not wait for the hung worker either


def test_training_with_a_failing_async_env_stops_with_the_env_named(tmp_path):
    config = PPOConfig(env="jaxrl_test/Failing-raise-v0", num_envs=4, num_steps=8, total_timesteps=256,
                       vectorization="async", seed=0, progress=False)
    with pytest.raises(EnvWorkerError, match="env 2 raised RuntimeError"):
        train("ppo", config, tmp_path / "run")


def test_training_whose_only_async_worker_dies_names_it_and_closing_does_not_mask_it(tmp_path):
    # With every worker dead, gymnasium's own close used to raise a bare EOFError over the real error.
    config = PPOConfig(env="jaxrl_test/Failing-exit-v0", num_envs=1, num_steps=8, total_timesteps=256,
                       vectorization="async", seed=2, progress=False)
    with pytest.raises(EnvWorkerError, match=r"the worker process of env 0 \(exit code 3\) died during step"):
        train("ppo", config, tmp_path / "run")


def test_bad_step_timeout_is_named():
    with pytest.raises(ValueError, match="env_step_timeout must be a positive number"):
        PPOConfig(env_step_timeout=0.0).validate()


def test_a_worker_ended_by_sigterm_is_reported_as_such_and_closing_still_works():
    """SLURM's SIGTERM reaches env workers too: a step then names the signal (``killed_by``, which
    a stopping run takes as its stop), and closing the env does not raise over the run's own stop."""
    import signal

    env = HostVectorEnv(make_vector_env("CartPole-v1", 2, "async"))
    env.reset(seed=0)
    env.step(np.zeros(2, np.int64))
    worker = env.env.processes[1]
    worker.terminate()
    worker.join(timeout=10)
    with pytest.raises(EnvWorkerError, match=r"env 1 \(killed by SIGTERM\) died during step") as caught:
        env.step(np.zeros(2, np.int64))
    assert caught.value.killed_by == signal.SIGTERM
    env.close()

    idle = HostVectorEnv(make_vector_env("CartPole-v1", 2, "async"))  # a worker killed after its last step
    idle.reset(seed=0)
    idle.env.processes[0].terminate()
    idle.env.processes[0].join(timeout=10)
    idle.close()  # gymnasium's close would raise ConnectionResetError sending "close" to it


def test_a_worker_killed_by_sigterm_mid_rollout_saves_the_last_complete_update(tmp_path):
    """The stop reached env 2's worker before this process (SLURM signals every process of a job): the
    run saves its last complete update -- learner, key and episode window as that update left them,
    without the 4 episodes that ended in the rollout it gave up -- and stops with SIGTERM's status."""
    import signal

    from jaxrl.io.checkpoint import latest_checkpoint, read_checkpoint_with_extra
    from jaxrl.loops.guards import TrainingInterrupted

    # 8-step rollouts: every env's episode is cut at its step 50 (in update 7's rollout), env 2 dies at step 52
    config = PPOConfig(env="jaxrl_test/Failing-sigterm-v0", env_kwargs=("after=52",), num_envs=4, num_steps=8,
                       total_timesteps=4 * 8 * 20, vectorization="async", seed=0, progress=False)
    with pytest.raises(TrainingInterrupted, match="stopped by SIGTERM after 192 env steps") as caught:
        train("ppo", config, tmp_path / "run")
    assert caught.value.exit_code == 128 + signal.SIGTERM
    meta = read_checkpoint_with_extra(latest_checkpoint(tmp_path / "run"))[0]
    assert (meta["update"], meta["env_steps"]) == (6, 192)
    assert meta["tracker"] == {"finished": [], "total_finished": 0}

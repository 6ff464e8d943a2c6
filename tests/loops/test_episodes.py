"""episodic_return means the same in both loops: the host tracker and the device statistics agree."""

import jax
import numpy as np

from jaxrl.loops.episodes import RETURN_WINDOW, EpisodeStats, EpisodeTracker


def test_host_tracker_and_device_stats_report_the_same_window():
    rng = np.random.default_rng(0)
    num_envs, steps = 6, 300
    rewards = rng.normal(size=(steps, num_envs)).astype(np.float32)
    done = rng.random((steps, num_envs)) < 0.08
    done[100] = True  # all envs at once: more than the window's share in one step
    tracker, stats = EpisodeTracker(num_envs), EpisodeStats.zeros(num_envs)
    step = jax.jit(EpisodeStats.step)
    for t in range(steps):
        tracker.record(rewards[t], done[t], np.ones(num_envs, bool))
        stats = step(stats, rewards[t], done[t])
        host, device = tracker.metrics(), jax.device_get(stats.metrics())
        assert host["episodes"] == int(device["episodes"])
        if host["episodic_return"] is None:
            assert np.isnan(device["episodic_return"])
        else:
            np.testing.assert_allclose(device["episodic_return"], host["episodic_return"], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(device["episodic_length"], host["episodic_length"], rtol=1e-6)
    assert tracker.total_finished > RETURN_WINDOW  # the window wrapped


def test_more_episodes_ending_at_once_than_the_window_keeps_the_last_ones():
    num_envs = RETURN_WINDOW + 5
    stats = EpisodeStats.zeros(num_envs).step(np.arange(num_envs, dtype=np.float32), np.ones(num_envs, bool))
    # envs 5..24 (the last 20 in env order) are the window; their returns are 5..24
    np.testing.assert_allclose(stats.metrics()["episodic_return"], np.mean(np.arange(5, num_envs)))
    assert int(stats.metrics()["episodes"]) == num_envs

"""When things happen, as pure rules both loops follow (on Python ints and traced arrays alike)."""

from __future__ import annotations

from typing import Any


def step_schedule(iteration: Any, num_envs: int, config: Any) -> tuple[Any, Any]:
    """Off-policy ``(acting, learning)`` for vector-env step ``iteration`` (0-based): the policy (not
    uniform random actions) acts once ``learning_starts`` env steps are done, and an ``update``
    follows the step when it takes the run past ``learning_starts`` on a ``train_frequency`` boundary.
    """
    acting = iteration * num_envs >= config.learning_starts
    learning = ((iteration + 1) * num_envs > config.learning_starts) & (iteration % config.train_frequency == 0)
    return acting, learning


def off_policy_records(config: Any) -> tuple[int, int]:
    """``(record_iterations, num_records)``: vector-env steps per metrics record, and records."""
    record_iterations = max(1, config.log_every // config.num_envs)
    num_records = max(1, config.total_timesteps // (config.num_envs * record_iterations))
    return record_iterations, num_records


def segment_bounds(num_iterations: int, every: int) -> list[tuple[int, int]]:
    """``[(begin, end), ...]``: pieces of ``every`` iterations (one piece when 0)."""
    size = every or num_iterations
    return [(begin, min(begin + size, num_iterations)) for begin in range(0, num_iterations, size)]

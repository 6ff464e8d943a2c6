"""Devices, meshes and processes: how a run is split over accelerators and hosts.

* :func:`env_mesh` builds a 1-D mesh named ``"envs"``; the loops split the env axis of
  env states, observations and rollouts over it and replicate everything else
  (parameters, optimizer state, replay buffer). Under ``jit`` XLA partitions the
  program and inserts the gradient all-reduces, so a sharded run computes what the
  one-device run computes, up to floating-point summation order.
* :func:`initialize` joins a multi-process run (several hosts, or several processes
  on one host) through ``jax.distributed``; afterwards ``jax.devices()`` lists every
  process's devices and :func:`env_mesh` spans them all.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

ENV_AXIS = "envs"

# Environment variables read by :func:`initialize` when the flags are not given.
COORDINATOR_VAR, NUM_PROCESSES_VAR, PROCESS_ID_VAR = "JAXRL_COORDINATOR", "JAXRL_NUM_PROCESSES", "JAXRL_PROCESS_ID"


def env_mesh(num_devices: int | None = None, devices: list | None = None) -> Mesh:
    """A 1-D mesh named ``"envs"`` over the first ``num_devices`` of ``devices`` (default: all of
    ``jax.devices()``, every process's)."""
    devices = list(jax.devices() if devices is None else devices)
    if num_devices is not None:
        if not 1 <= num_devices <= len(devices):
            raise ValueError(f"devices must be in [1, {len(devices)}] (the devices JAX sees), got {num_devices}")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (ENV_AXIS,))


def check_divisible(num_envs: int, mesh: Mesh | None) -> None:
    """``ValueError`` with the numbers when ``num_envs`` cannot be split evenly over the mesh."""
    if mesh is not None and num_envs % mesh.size:
        raise ValueError(f"num_envs ({num_envs}) must be divisible by the number of devices ({mesh.size}) "
                         f"to split the envs evenly; {num_envs} % {mesh.size} = {num_envs % mesh.size}")


def _env_axis_sharding(mesh: Mesh, env_axis: int) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(*([None] * env_axis), ENV_AXIS))


def shard_env_axis(tree: Any, mesh: Mesh | None, env_axis: int = 0) -> Any:
    """Inside ``jit``: constrain every leaf's ``env_axis`` to be split over the mesh
    (identity without a mesh)."""
    if mesh is None:
        return tree
    sharding = _env_axis_sharding(mesh, env_axis)
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)


def put_env_axis(tree: Any, mesh: Mesh | None, env_axis: int = 0) -> Any:
    """Outside ``jit``: place host arrays with ``env_axis`` split over the mesh's devices."""
    if mesh is None:
        return tree
    return jax.device_put(tree, _env_axis_sharding(mesh, env_axis))


def put_replicated(tree: Any, mesh: Mesh | None) -> Any:
    """Outside ``jit``: a full copy of ``tree`` on every device of the mesh."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Join a multi-process run; arguments default to ``$JAXRL_COORDINATOR`` (``host:port`` of
    process 0), ``$JAXRL_NUM_PROCESSES`` and ``$JAXRL_PROCESS_ID``. Returns False (and does
    nothing) when no coordinator is given. Call before any other JAX work.

    CPU devices of different processes talk through gloo, so the same launch works on a
    laptop (several processes) and on a cluster of GPU hosts.
    """
    coordinator = coordinator or os.environ.get(COORDINATOR_VAR)
    if not coordinator:
        return False
    num_processes = num_processes if num_processes is not None else _int_from_env(NUM_PROCESSES_VAR)
    process_id = process_id if process_id is not None else _int_from_env(PROCESS_ID_VAR)
    if num_processes is None or num_processes < 1:
        raise ValueError(f"num_processes must be >= 1 for a multi-process run, got {num_processes} "
                         f"(flag --num-processes or ${NUM_PROCESSES_VAR})")
    if process_id is None or not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id} "
                         f"(flag --process-id or ${PROCESS_ID_VAR})")
    if ":" not in coordinator:
        raise ValueError(f"coordinator must be host:port, got {coordinator!r}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)
    return True


def writes_run_dir() -> bool:
    """Whether this process writes the run dir and reports the run: process 0 (or the only one)."""
    return jax.process_index() == 0


def _int_from_env(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"${name} must be an integer, got {value!r}") from None


def largest_over_processes(value: int) -> int:
    """The largest of each process's ``value`` in a multi-process run (``value`` itself in a
    single-process one). A collective: every process calls it at the same point of the run."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.asarray(value, np.int32))))


def fetchable(tree: Any) -> Any:
    """``tree`` with every array readable by this process (``np.asarray``, a checkpoint): as it is in
    a single-process run; in a multi-process one each leaf gathered whole from every process's
    shards (a collective: every process calls it at the same point of the run)."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)

"""Run by tests/test_distributed.py in fresh processes (device counts and jax.distributed are
fixed at JAX start-up). Writes the trained parameters to an .npz file."""

import argparse
import dataclasses
import sys

import jax
import numpy as np

from jaxrl import distributed
from jaxrl.agents.ppo import PPOConfig

CONFIG = PPOConfig(env="phys2d/CartPole-v1", total_timesteps=3 * 8 * 32, num_envs=8, num_steps=32,
                   update_epochs=2, num_minibatches=4, progress=False)


def flat_params(state) -> dict[str, np.ndarray]:
    params = state.params if hasattr(state, "params") else {"actor": state.actor_params, "critic": state.critic_params}
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=("device", "device-pieces", "device-pieces-sac", "host"), default="device")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--coordinator", default=None)
    parser.add_argument("--num-processes", type=int, default=None)
    parser.add_argument("--process-id", type=int, default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    multi_process = distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    mesh = distributed.env_mesh(args.devices) if (args.devices or multi_process) else None
    if args.loop == "device":
        from jaxrl.api import make_train

        result = jax.block_until_ready(jax.jit(make_train("ppo", CONFIG, mesh))(jax.random.PRNGKey(0)))
        state = result.state
    elif args.loop == "device-pieces":  # the CLI's device run: one update per piece, each fed the last's carry
        from jaxrl.loops.device_run import run_device

        # norm_reward's per-env returns: a piece must hand its next one the learner state replicated
        config = dataclasses.replace(CONFIG, checkpoint_every=1, norm_reward=True)
        states = run_device("ppo", config, run_dir=args.out + ".run", mesh=mesh).states
        state = jax.tree.map(lambda leaf: leaf[0], states)  # the one seed's
    elif args.loop == "device-pieces-sac":  # off-policy pieces: the replay's rows are split by env over devices
        from jaxrl.agents.sac import SACConfig
        from jaxrl.loops.device import make_program
        from jaxrl.loops.device_run import run_device

        config = SACConfig(env="phys2d/Pendulum-v0", total_timesteps=8 * 48, num_envs=8, learning_starts=128,
                           log_every=64, checkpoint_every=1, hidden_sizes=(16, 16), batch_size=32, n_step=3,
                           progress=False)
        states = run_device("sac", config, run_dir=args.out + ".run", mesh=mesh).states
        if mesh is not None:  # each device holds 8 / devices envs' rows of the replay, not a copy of all of it
            rows = jax.jit(make_program("sac", config, mesh).init)(jax.random.PRNGKey(0)).buffer.steps.obs
            shard_envs = {shard.data.shape[1] for shard in rows.addressable_shards}
            assert shard_envs == {8 // mesh.size}, (rows.sharding, shard_envs)
        state = jax.tree.map(lambda leaf: leaf[0], states)
    else:
        from jaxrl.api import train

        state = train("ppo", dataclasses.replace(CONFIG, env="CartPole-v1"), None, mesh=mesh).state
    params = flat_params(state)  # replicated, so every process holds all of it
    if jax.process_index() == 0:
        np.savez(args.out, **params)
    print("devices", len(jax.devices()), "processes", jax.process_count(), file=sys.stderr)


if __name__ == "__main__":
    main()

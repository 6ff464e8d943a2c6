"""Where XLA:CPU spends the compile of a PPO device program, jaxrl's and rejax's, on one config.

For each side, in its own process: the kernels XLA:CPU compiled (one LLVM module each, identical
fusions share one), their optimised LLVM IR lines, each module's LLVM seconds (summed over the
compile threads), and the whole compile split into HLO passes and code generation, from XLA's
own logs (``TF_CPP_VMODULE``) and dumps (``--xla_dump_to``). The kernel count and IR lines are
the same in every run of one version of the code, so they show a change this shared, noisy host
would hide in the seconds; the heaviest kernels say where to look.

    python benchmarks/compile_profile.py --peer-python /tmp/peer/bin/python

The peer side runs ``peer_rejax.py``'s PPO (rejax 0.1.3 on gymnax CartPole-v1) in its Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import write_result

MODULE = "jit_train"  # the name XLA gives both sides' jitted train function
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_LLVM_MODULE = re.compile(r"Compiled LLVM module: (\S+) time: ([\d.]+) (us|ms|s)\b")


def _seconds(match: re.Match, value_group: int = 1) -> float:
    return float(match.group(value_group)) * _SECONDS[match.group(value_group + 1)]


def compile_side(side: str, args: argparse.Namespace) -> dict:
    """In this process: trace, lower and compile ``side``'s train function; its seconds."""
    import jax

    seeds = args.num_seeds
    if side == "rejax":
        from peer_rejax import rejax_ppo

        train = rejax_ppo(args.num_envs, args.num_steps, 4, 4, args.total_timesteps).train
    else:
        import dataclasses

        from device_loop import PEER_CONFIG

        from jaxrl.loops.device import make_program, program_to_train

        config = dataclasses.replace(PEER_CONFIG, num_envs=args.num_envs, num_steps=args.num_steps,
                                     total_timesteps=args.total_timesteps)
        train = program_to_train(make_program("ppo", config))
    key = jax.random.PRNGKey(0)
    function = jax.jit(train if seeds == 1 else jax.vmap(train))
    keys = key if seeds == 1 else jax.random.split(key, seeds)
    start = time.perf_counter()
    lowered = function.lower(keys)
    traced = time.perf_counter()
    lowered.compile()
    return {"trace_lower_s": traced - start, "compile_s": time.perf_counter() - traced,
            "jax": jax.__version__}


def parse_compile_log(log: str) -> dict:
    """The train module's HLO-pass and codegen seconds and its LLVM modules' seconds from XLA's log."""
    begin = log.find(f"Compiling: {MODULE}")
    section = log[begin:] if begin >= 0 else ""
    passes = re.search(rf"Running HLO passes on \[{MODULE}\] for CPU time: ([\d.]+) (us|ms|s)\b", log)
    codegen = re.search(rf"Compiling \[{MODULE}\] for CPU using JIT time: ([\d.]+) (us|ms|s)\b", log)
    modules = {match.group(1): _seconds(match, 2) for match in _LLVM_MODULE.finditer(section)}
    return {"hlo_passes_s": _seconds(passes) if passes else None, "codegen_s": _seconds(codegen) if codegen else None,
            "llvm_module_s": modules}


def count_ir(dump_dir: Path) -> dict:
    """Kernels and optimised IR lines of the train module in an XLA dump directory."""
    files = sorted(dump_dir.glob(f"*.{MODULE}.*ir-with-opt.ll"))
    return {"kernels": len(files), "ir_lines": sum(len(path.read_text().splitlines()) for path in files)}


def profile_side(python: str, side: str, args: argparse.Namespace) -> dict:
    """Run one side in a fresh process with XLA's logs and dumps on; what they say."""
    with tempfile.TemporaryDirectory() as dump:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "cpu_compiler=1,ir_compiler=2",
               "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump} "
                            f"--xla_dump_hlo_module_re={MODULE}"}
        command = [python, __file__, "--side", side, "--num-envs", str(args.num_envs), "--num-steps",
                   str(args.num_steps), "--total-timesteps", str(args.total_timesteps), "--num-seeds",
                   str(args.num_seeds)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            return {"error": lines[-1] if lines else f"exit status {done.returncode}"}
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result.update(count_ir(Path(dump)))
    log = parse_compile_log(done.stderr)
    heaviest = sorted(log.pop("llvm_module_s").items(), key=lambda item: -item[1])
    return {**result, **log, "llvm_s": sum(seconds for _, seconds in heaviest),
            "heaviest": [[name, round(seconds, 4)] for name, seconds in heaviest[:args.top]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", help="a Python with rejax 0.1.3 and gymnax 0.0.9; omitted: jaxrl only")
    parser.add_argument("--num-envs", type=int, default=8, help="parallel envs per seed")
    parser.add_argument("--num-steps", type=int, default=128, help="steps per env and rollout")
    parser.add_argument("--total-timesteps", type=int, default=100_352, help="env steps per seed")
    parser.add_argument("--num-seeds", type=int, default=1, help="seeds in one jit(vmap(train)); 1: jit(train)")
    parser.add_argument("--top", type=int, default=8, help="heaviest LLVM modules listed per side")
    parser.add_argument("--side", choices=("jaxrl", "rejax"), help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.side:
        print(json.dumps(compile_side(args.side, args)))
        return
    sides = {"jaxrl": profile_side(sys.executable, "jaxrl", args)}
    if args.peer_python:
        sides["rejax"] = profile_side(args.peer_python, "rejax", args)
    for side, result in sides.items():
        if "error" in result:
            print(f"{side}: failed: {result['error']}")
            continue
        print(f"{side}: {result['kernels']} kernels, {result['ir_lines']} IR lines, trace+lower "
              f"{result['trace_lower_s']:.2f} s, compile {result['compile_s']:.2f} s (HLO passes "
              f"{result['hlo_passes_s']:.2f} s, codegen {result['codegen_s']:.2f} s, LLVM summed over threads "
              f"{result['llvm_s']:.2f} s)")
        for name, seconds in result["heaviest"]:
            print(f"    {seconds * 1000:7.1f} ms  {name}")
    config = {key: getattr(args, key) for key in ("num_envs", "num_steps", "total_timesteps", "num_seeds")}
    print(write_result("compile_profile", {"config": config, "sides": sides}))


if __name__ == "__main__":
    main()

"""Every Python block of the README runs as written (at smaller step counts)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
SMALLER = [(r"total_timesteps=50_000", "total_timesteps=1_024"),  # the 64-seed device-loop example...
           (r"PRNGKey\(0\), 64\)", "PRNGKey(0), 8)"),  # ... on 8 seeds
           (r'"Pendulum-v1", seed=2, total_timesteps=3000', '"Pendulum-v1", seed=2, total_timesteps=1200')]


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write runs/ write them here
    code = BLOCKS[index]
    for pattern, replacement in SMALLER:
        code = re.sub(pattern, replacement, code)
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})

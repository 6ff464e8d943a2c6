"""The throughput harness and the report: a quick cell gives a valid result file and a report row."""

import json
import sys
from pathlib import Path

import pytest

from jaxrl import bench
from jaxrl.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import report


def test_cell_parsing_names_the_bad_part():
    assert bench.Cell.parse("sac:device:64") == bench.Cell("sac", "device", 64)
    for text, message in [("ppo", "must be ALGORITHM:BACKEND:NUM_ENVS"), ("a2c:sync:8", "algorithm must be one of"),
                          ("ppo-mlp:gpu:8", "backend must be one of"), ("ppo-mlp:sync:0", "num_envs must be")]:
        with pytest.raises(ValueError, match=message):
            bench.Cell.parse(text)
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--cells", "ppo-mlp:sync:x"])
    assert exit_.value.code == 2


def test_quick_cell_writes_a_valid_result_file_and_a_report_row(tmp_path, capsys):
    assert main(["bench", "--quick", "--cells", "ppo-mlp:sync:2", "--results-dir", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("throughput__*.json")
    data = json.loads(path.read_text())
    for key in ("date", "machine", "cpu_model", "cpu_cores", "device_kind", "versions"):
        assert data[key], key
    assert data["versions"]["jax"] and data["versions"]["gymnasium"]
    (row,) = data["rows"]
    assert data["complete"] is True
    assert (row["algorithm"], row["backend"], row["num_envs"]) == ("ppo-mlp", "sync", 2)
    assert row["env_sps"] > row["act_sps"] > 0 and row["train_sps"] > 0 and row["peak_rss_mb"] > 100
    assert row["act_over_env"] == pytest.approx(row["act_sps"] / row["env_sps"])
    # The parts measured alone, and the serial bounds they give: 1 / (1/a + 1/b) is below both parts.
    assert row["policy_sps"] > 0 and row["update_sps"] > 0
    assert row["act_bound_sps"] == pytest.approx(1 / (1 / row["env_sps"] + 1 / row["policy_sps"]))
    assert row["act_bound_sps"] < min(row["env_sps"], row["policy_sps"])
    assert row["train_bound_sps"] == pytest.approx(1 / (1 / row["act_sps"] + 1 / row["update_sps"]))
    assert row["act_over_bound"] == pytest.approx(row["act_sps"] / row["act_bound_sps"])
    assert "ppo-mlp   sync" in capsys.readouterr().out  # the printed table

    markdown = report.write_report([path], tmp_path / "report").read_text()
    assert "| cpu | ppo-mlp | sync | 2 |" in markdown
    assert (tmp_path / "report" / "throughput_ppo-mlp.png").stat().st_size > 1000


def test_an_interrupted_matrix_keeps_the_cells_it_measured(tmp_path, monkeypatch):
    measured = []

    def fake_cell(cell, quick):
        if measured:
            raise KeyboardInterrupt  # Ctrl-C during the second cell
        measured.append(cell)
        return {**cell._asdict(), "env_sps": 10.0, "act_sps": 5.0, "train_sps": 4.0}

    monkeypatch.setattr(bench, "run_cell_subprocess", fake_cell)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--cells", "ppo-mlp:sync:2", "sac:sync:1", "--results-dir", str(tmp_path)])
    (path,) = tmp_path.glob("throughput__*.json")  # no temporary file left beside it
    data = json.loads(path.read_text())
    assert data["complete"] is False and data["cells"] == ["ppo-mlp:sync:2", "sac:sync:1"]
    assert [(row["algorithm"], row["env_sps"]) for row in data["rows"]] == [("ppo-mlp", 10.0)]

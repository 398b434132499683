"""What `monitor` reads of a log that lands over time: every file's light columns, and every
column only of the files holding a window it computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlflow_postmortem.errors import DataError
from mlflow_postmortem.monitoring import calendar_windows, parse_every
from mlflow_postmortem.production_log import LogScan

WEEK = parse_every("7d")


def _weeks(n: int) -> pd.DataFrame:
    """`n` weeks of a log, 50 rows a week, its week number a column of its own."""
    start = calendar_windows(pd.Series(pd.to_datetime(["2026-01-07"], utc=True)), WEEK)[0].start
    rows = np.arange(50 * n)
    return pd.DataFrame({"event_time": start + pd.to_timedelta(rows * (7 * 24 * 3600 // 50), unit="s"),
                         "x": np.random.default_rng(0).normal(size=len(rows)), "label": rows % 2,
                         "week": rows // 50})


def _scan(path: Path) -> LogScan:
    return LogScan.of(str(path), timestamp="event_time", target="label", entity_id=None, features=("x",))


def test_a_parquet_dataset_folder_is_read_file_by_file_with_its_partition_columns(tmp_path: Path) -> None:
    log = _weeks(4)
    pq.write_to_dataset(pa.Table.from_pandas(log, preserve_index=False), tmp_path / "log", partition_cols=["week"])

    scan = _scan(tmp_path / "log")
    windows = calendar_windows(scan.times, WEEK)
    last = scan.read([windows[-1]])

    assert len(scan.parts) == 4 and len(windows) == 4
    assert len(last) == 50  # the last week's file only, not the folder
    assert last["week"].astype(int).eq(3).all() and last["x"].tolist() == log["x"].tail(50).tolist()
    between = scan.between(windows[1].start, windows[2].end)
    assert sorted(between["week"].astype(int).unique()) == [1, 2] and len(between) == 100


def test_an_empty_dataset_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()

    with pytest.raises(DataError, match=r"^data.current: no Parquet file in the folder .*log$"):
        _scan(tmp_path / "log")

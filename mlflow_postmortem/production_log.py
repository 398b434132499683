"""The production log as files that land over time: what `monitor` reads of it, and when.

A call reads the light columns of every file (time, target, entity) to find the windows it has
to compute and the recorded ones whose labels grew, then every column only of the files that
hold a production row of those windows. A cron job's call that adds one week reads one week's
file whole, however many weeks the log holds. The files are a glob's matches or a Parquet
dataset folder's files; a single file is one part, read whole when any of its windows is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from .data import Part, file_parts, parse_time
from .errors import DataError
from .monitoring import (NO_TIME, Window, in_window, join_late_labels, label_rows, labelled_per_step, latest_labels,
                         utc_nanoseconds)

ROLE = "data.current"


@dataclass(frozen=True)
class LogScan:
    parts: tuple[Part, ...]
    #: one row per production row: the file it is in (`part`), its time (UTC) and whether it has a label
    rows: pd.DataFrame
    #: entity -> its latest label, from the label rows anywhere in the log (empty without `entity_id`)
    labels: pd.Series
    timestamp: str
    target: str
    entity_id: str | None
    features: tuple[str, ...]

    @classmethod
    def of(cls, path: str, *, timestamp: str, target: str, entity_id: str | None,
           features: tuple[str, ...]) -> "LogScan":
        """`features` tell label rows from predictions (with `entity_id`); they are read and let go file by file."""
        parts = tuple(file_parts(path, ROLE))
        light = [c for c in (timestamp, target, entity_id) if c]
        wanted = [*light, *features] if entity_id else light
        found: set[str] = set()
        nanoseconds, own, part_of, entities, label_frames = [], [], [], [], []
        for i, part in enumerate(parts):
            frame = part.read(wanted)
            found.update(frame.columns)
            # a label file holds none of the features: absent columns are missing values here, as in one table
            whole = frame.reindex(columns=list(dict.fromkeys([*frame.columns, *features]))) if entity_id else frame
            is_label = label_rows(whole, entity_id=entity_id, target=target, features=features)
            if is_label.any():
                label_frames.append(frame.loc[is_label, [entity_id, target]])
                frame = frame[~is_label]
            nanoseconds.append(utc_nanoseconds(parse_time(frame[timestamp], timestamp)) if timestamp in frame.columns
                               else np.full(len(frame), NO_TIME))
            own.append(frame[target].notna().to_numpy() if target in frame.columns else np.zeros(len(frame), bool))
            part_of.append(np.full(len(frame), i, dtype=np.int32))
            if entity_id:
                entities.append(frame[entity_id].to_numpy() if entity_id in frame.columns else np.full(len(frame), None))
        if timestamp not in found:
            raise DataError(f"timestamp column {timestamp!r} is absent from {ROLE} ({path})")
        labels = (latest_labels(pd.concat(label_frames, ignore_index=True), entity_id, target) if label_frames
                  else pd.Series(dtype=object))
        labelled = np.concatenate(own)
        if not labels.empty:
            labelled |= pd.Index(labels.index).get_indexer(np.concatenate(entities)) >= 0
        time = pd.Series(np.concatenate(nanoseconds).view("datetime64[ns]")).dt.tz_localize("UTC")
        scanned = pd.DataFrame({"part": np.concatenate(part_of), "labelled": labelled, "time": time})
        return cls(parts, scanned, labels, timestamp, target, entity_id, features)

    @property
    def times(self) -> pd.Series:
        return self.rows["time"]

    def labelled_per_step(self, every: pd.Timedelta) -> dict[int, int]:
        return labelled_per_step(self.times, self.rows["labelled"].to_numpy(), every)

    def read(self, windows: Iterable[Window]) -> pd.DataFrame:
        """Every row, all columns, of the files holding a production row in one of `windows`, in log order."""
        wanted = np.zeros(len(self.rows), dtype=bool)
        for w in windows:
            wanted |= in_window(self.times, w)
        needed = sorted(set(self.rows["part"].to_numpy()[wanted].tolist()))
        if not needed:
            raise DataError(f"{ROLE} has no rows in the windows to compute")
        return pd.concat([self.parts[i].read() for i in needed], ignore_index=True)

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The production rows logged in [start, end), late labels joined, as the files hold them."""
        rows = join_late_labels(self.read([Window(start, end)]), entity_id=self.entity_id, target=self.target,
                                features=self.features, labels=self.labels)
        return rows[in_window(parse_time(rows[self.timestamp], self.timestamp), Window(start, end))].reset_index(drop=True)

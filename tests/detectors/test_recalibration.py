"""Recalibration's bucket fit: the map from a feature to its bucket numbers, recovered from shares."""

from __future__ import annotations

import numpy as np

from mlflow_postmortem.detectors.recalibration import _bucket_maps


def test_bucket_numbers_over_a_reference_with_point_masses_map_back_to_the_buckets_used() -> None:
    """Route distances: a few values carry a large share of rows, so several code boundaries fall
    on one value of the reference; a line through every boundary misses the map, the pairs do not."""
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.uniform(100, 3000, 12_000), np.full(6_000, 1620.0), np.full(2_000, 760.0)])
    lo, hi = np.quantile(reference, [0.01, 0.99])
    current = rng.choice(reference, 5_000)
    buckets = np.clip(np.floor((current - lo) / ((hi - lo) / 20)), 0, 19)
    codes, counts = np.unique(buckets, return_counts=True)

    tv, mode, a, b = min(_bucket_maps(np.sort(reference), codes, counts), key=lambda c: c[0])

    assert mode == "floor"
    assert tv < 0.02
    assert abs(a * (hi - lo) / 20 - 1) < 0.03  # the bucket width recovered within 3%

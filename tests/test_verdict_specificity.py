"""Each verdict rests on evidence specific to its cause: the defects of issue 7, reproduced.

Every case here was answered wrongly before (a real drop called healthy, drift called a unit
change or a stuck default, a healthy log called novel); each test builds the situation on the
synthetic world and checks the cause, not just that something fired.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import jsonschema
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from mlflow_postmortem.data import build_inputs
from mlflow_postmortem.diagnose import diagnose
from mlflow_postmortem.profile import numeric_reference
from mlflow_postmortem.types import ModelHandle

from synthetic import FEATURES, current, inputs, make_rows, world

SCHEMA = json.loads((Path(__file__).parent / "verdict.schema.json").read_text())


def _diagnose(data, model, **kwargs):
    """A verdict, checked against the JSON contract: every kind of evidence has its typed fields."""
    verdict = diagnose(data, model, **kwargs)
    jsonschema.validate(verdict.to_dict(), SCHEMA)
    return verdict


def _second_half(frame: pd.DataFrame) -> np.ndarray:
    return (frame.index >= len(frame) // 2)


def _on_features(model):
    """The world's model scoring only its own columns, so frames may carry extra features."""
    return replace(model, predict=lambda f: model.predict(f[FEATURES]), predict_proba=lambda f: model.predict_proba(f[FEATURES]))


def test_a_third_of_labels_flipped_in_the_second_half_is_global_feature_drift_not_healthy():
    cur = current(4000, seed=31)
    rng = np.random.default_rng(1)
    flip = _second_half(cur) & (rng.random(len(cur)) < 1 / 3)
    cur.loc[flip, "label"] = 1 - cur.loc[flip, "label"]

    verdict = _diagnose(inputs(cur), world().model, baseline=world().model)

    assert verdict.production["dropped"] is True
    assert verdict.root_cause == "feature_drift", verdict.summary
    assert verdict.top.features == () and verdict.top.evidence["scope"] == "global"
    assert verdict.top.mitigation == "retrain"
    assert verdict.top.explains is not None and verdict.top.explains.share > 0.5
    assert verdict.summary.splitlines()[0].startswith("accuracy dropped by")


def test_a_drop_nothing_explains_says_unexplained_and_never_reads_healthy():
    cur = current(3000, seed=32)
    cur["label"] = cur["label"].where(cur.index < 2900)  # labels arrive for the last hundred rows only
    rng = np.random.default_rng(2)
    flip = cur["label"].notna() & (rng.random(len(cur)) < 0.45)
    cur.loc[flip, "label"] = 1 - cur.loc[flip, "label"]

    verdict = _diagnose(inputs(cur), world().model, baseline=world().model)

    assert verdict.production["dropped"] is True
    assert verdict.root_cause != "healthy"
    assert verdict.summary.startswith("unexplained drop of"), verdict.summary
    assert "checked: " in verdict.summary.splitlines()[0]


def test_production_error_beyond_the_golden_interval_never_reads_healthy_when_the_tests_built_for_tails_hesitate():
    rng = np.random.default_rng(7)
    features = ["a", "b", "c", "d"]

    def rows(n: int, start: str) -> pd.DataFrame:
        x = rng.normal(size=(n, 4))
        return pd.DataFrame(x, columns=features).assign(y=x @ np.array([1, 2, -1, 0.5]) + rng.normal(0, 1, n),
                                                        t=pd.date_range(start, periods=n, freq="h"))

    reference, golden, log = rows(3000, "2025-01-01"), rows(2000, "2025-06-01"), rows(3000, "2026-01-01")
    log.loc[rng.random(len(log)) < 0.03, "y"] += 15  # a few labels far off: the bulk of the errors unchanged
    fitted = LinearRegression().fit(reference[features], reference["y"])
    model = ModelHandle("linear", "1", fitted.predict, None, (), tuple(features))

    verdict = diagnose(build_inputs(reference, golden, log, task="regression", target="y", features=features,
                                    timestamp="t"), model)

    production = verdict.production
    assert production["drop"]["p_value"] > 0.0025  # the rank test sees the bulk unchanged
    assert production["ci"][0] > verdict.golden.ci_high  # what the verdict shows: RMSE near 2.9 against 1.0
    assert production["dropped"] is True and production["drop"]["beyond_golden_interval"] is True
    assert verdict.root_cause != "healthy", verdict.summary
    assert verdict.summary.startswith("unexplained drop of"), verdict.summary


def test_the_rarest_category_growing_is_data_drift_not_a_stuck_default():
    pool = current(30000, seed=33)
    rarest = world().reference["plan"].value_counts().index[-1]
    rng = np.random.default_rng(3)
    weights = np.where(pool["plan"] == rarest, 6.0, 1.0) * np.linspace(0.2, 1.8, len(pool))  # grows over time
    rows = np.sort(rng.choice(len(pool), 3000, replace=False, p=weights / weights.sum()))
    cur = pool.iloc[rows].reset_index(drop=True).assign(event_time=pool["event_time"].iloc[:3000].to_numpy())

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "data_drift", verdict.summary
    assert verdict.top.features[0] == "plan"
    assert next(c for c in verdict.causes if c.cause == "feature_unavailability").score == 0


def test_a_segment_falling_to_a_third_of_its_share_is_data_drift_though_little_mass_moved():
    pool = current(8000, seed=34)
    rng = np.random.default_rng(4)
    keep = (pool["plan"] != "team") | (rng.random(len(pool)) < 0.3)  # team: 10% of rows -> about 3%
    cur = pool[keep].iloc[:3000].reset_index(drop=True)

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "data_drift", verdict.summary
    assert verdict.top.features[0] == "plan"
    assert verdict.top.evidence["total_variation"] < 0.1  # the share's factor found it, not the mass moved
    assert verdict.top.evidence["grown_category"] == "team"
    assert verdict.top.evidence["grown_shares"][1] < 0.5 * verdict.top.evidence["grown_shares"][0]


@pytest.mark.parametrize("change", ["shift_5_sd_ramp", "spread_x1.6"])
def test_a_shift_or_wider_spread_without_a_unit_is_not_a_recalibration_nor_skew(change):
    cur = current(3000, seed=34).drop(columns="label")
    ref = world().reference["score"]
    t = np.linspace(0, 1, len(cur))
    if change == "shift_5_sd_ramp":
        cur["score"] = cur["score"] + 5 * ref.std() * t
    else:
        cur["score"] = ref.mean() + (cur["score"] - ref.mean()) * 1.6

    verdict = _diagnose(inputs(cur), world().model)

    named = {c.cause for c in verdict.causes if c.score > 0 and "score" in c.features}
    assert not named & {"feature_recalibration", "training_serving_skew"}, verdict.summary
    assert verdict.root_cause == "data_drift", verdict.summary


@pytest.mark.parametrize(("factor", "unit"), [(3.6, "m/s -> km/h"), (2.54, "in -> cm"), (0.45359237, "lb -> kg"),
                                             (1e12, "x 10^12"), (1e-15, "/ 10^15")])
def test_unit_factors_beyond_the_old_short_list_are_named(factor, unit):
    cur = current(3000, seed=35)
    late = _second_half(cur)
    cur.loc[late, "income"] = cur.loc[late, "income"] * factor

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert unit in verdict.top.evidence["unit"]


def test_an_unchanged_sparse_heavy_tailed_feature_is_healthy_not_a_unit_change():
    """About 80 values of a feature missing in 84% of rows (a film's box office): binned against
    the reference, so few values move a plain total variation past 0.2 by chance, and some named
    unit's quantiles fit them within the shape tolerance."""
    def with_box_office(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        values = np.exp(rng.normal(16, 2, len(frame)))
        return frame.assign(box_office=np.where(rng.random(len(frame)) < 0.84, np.nan, values))

    w = world()
    named = []
    for seed in range(10):
        cur = with_box_office(current(500, seed=100 + seed), 200 + seed)
        data = build_inputs(with_box_office(w.reference, 1), with_box_office(w.golden, 2), cur, task="classification",
                            target="label", features=[*FEATURES, "box_office"], categorical=("plan", "region"),
                            timestamp="event_time")
        verdict = _diagnose(data, _on_features(w.model))
        named += [f"{seed}: {c.cause}" for c in verdict.causes if c.score > 0 and "box_office" in c.features]

    assert named == []


def test_a_feature_served_standardised_from_the_start_is_skew_not_drift():
    cur = current(3000, seed=36)
    ref = world().reference["age"]
    cur["age"] = (cur["age"] - ref.mean()) / ref.std()

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "training_serving_skew", verdict.summary
    assert "standardised" in verdict.top.evidence["change"]["specific"]


@pytest.mark.parametrize("share", [0.3, 0.55])
def test_part_of_the_rows_served_standardised_from_the_start_is_skew_not_drift(share):
    """One of two serving paths standardises: every window mixes raw ages and z-scores."""
    cur = current(3000, seed=36)
    ref = world().reference["age"]
    some = np.random.default_rng(10).random(len(cur)) < share
    cur.loc[some, "age"] = (cur.loc[some, "age"] - ref.mean()) / ref.std()

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "training_serving_skew", verdict.summary
    assert verdict.top.features == ("age",)
    assert "standardised" in verdict.top.evidence["change"]["specific"]


@pytest.mark.parametrize(("snap", "step_sd", "share"), [(np.floor, 0.5, 0.75), (np.round, 0.25, 0.4)])
def test_part_of_the_rows_served_rounded_from_the_start_is_skew_though_the_distribution_hardly_moves(
        snap, step_sd, share):
    """One serving path truncates (or rounds) ages to a coarse grid: few values move far, but the
    grid's values repeat in every window where the reference never repeats one."""
    cur = current(3000, seed=37)
    step = step_sd * world().reference["age"].std()
    some = np.random.default_rng(11).random(len(cur)) < share
    cur.loc[some, "age"] = snap(cur.loc[some, "age"] / step) * step

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "training_serving_skew", verdict.summary
    assert verdict.top.features == ("age",)
    assert verdict.top.evidence["change"]["step"] == pytest.approx(step)


def test_a_healthy_log_with_five_thousand_equally_common_categories_is_healthy():
    def with_zip(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        return frame.assign(zip=np.random.default_rng(seed).integers(0, 5000, len(frame)).astype(str))

    w = world()
    reference = with_zip(make_rows(20000, 41), 1)
    data = build_inputs(reference, with_zip(w.golden, 2), with_zip(current(3000, seed=37), 3), task="classification",
                        target="label", features=[*FEATURES, "zip"], categorical=("plan", "region", "zip"),
                        timestamp="event_time")

    verdict = _diagnose(data, _on_features(w.model))

    assert verdict.root_cause == "healthy", verdict.summary


def test_a_class_balance_that_moved_is_data_drift_naming_the_target_with_or_without_labels():
    pool = current(40000, seed=38)
    rng = np.random.default_rng(4)
    weights = np.where(pool["label"] == 1, 3.0, 1.0)
    rows = np.sort(rng.choice(len(pool), 4000, replace=False, p=weights / weights.sum()))
    cur = pool.iloc[rows].reset_index(drop=True).assign(event_time=pool["event_time"].iloc[:4000].to_numpy())

    for frame in (cur, cur.drop(columns="label")):
        verdict = _diagnose(inputs(frame), world().model)
        assert verdict.root_cause == "data_drift", verdict.summary
        assert verdict.top.features[0] == "label"
        assert verdict.top.evidence["kind"] == "prior_shift"


def _weak_features_world():
    """Twelve features, each only a little different between the classes (0.3 sd): a prior
    shift moves every one of them a little and none past the drift bar, yet the model's
    probabilities, which sum them all, clearly."""
    names = [f"f{i}" for i in range(12)]

    def rows(n: int, seed: int, positive: float = 0.5) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        y = (rng.random(n) < positive).astype(int)
        x = rng.normal(0, 1, (n, len(names))) + np.where(y[:, None] == 1, 0.15, -0.15)
        return pd.DataFrame(x, columns=names).assign(label=y)

    reference, golden = rows(5000, 1), rows(2000, 2)
    est = LogisticRegression().fit(reference[names], reference["label"])
    return rows, reference, golden, names, ModelHandle("weak", "1", est.predict, est.predict_proba,
                                                       tuple(est.classes_), tuple(names))


@pytest.mark.parametrize("seed", [4, 6])
def test_a_class_balance_that_moved_without_labels_is_data_drift_though_no_one_feature_moved_much(seed):
    rows, reference, golden, names, model = _weak_features_world()
    cur = rows(2000, seed, positive=0.68).drop(columns="label")
    cur["event_time"] = pd.date_range("2026-01-01", periods=len(cur), freq="10min")

    verdict = _diagnose(build_inputs(reference, golden, cur, task="classification", target="label", features=names,
                                     timestamp="event_time"), model)

    assert verdict.root_cause == "data_drift", verdict.summary
    assert verdict.top.features[0] == "label" and verdict.top.evidence["kind"] == "prior_shift"


def test_the_same_weak_features_at_the_old_class_balance_are_healthy():
    rows, reference, golden, names, model = _weak_features_world()
    cur = rows(2000, 4).drop(columns="label")
    cur["event_time"] = pd.date_range("2026-01-01", periods=len(cur), freq="10min")

    verdict = _diagnose(build_inputs(reference, golden, cur, task="classification", target="label", features=names,
                                     timestamp="event_time"), model)

    assert verdict.root_cause == "healthy", verdict.summary


def _with_year(frame: pd.DataFrame) -> pd.DataFrame:
    """A `year` that advances with the rows (2000 to 2012): the reference holds every year, a
    time-ordered log each year in turn, so any stretch of the log differs from the reference."""
    return frame.assign(year=2000 + np.floor(13 * np.arange(len(frame)) / len(frame)))


def _year_verdict(change=None):
    w = world()
    cur = _with_year(current(3000, seed=40))
    if change is not None:
        late = _second_half(cur)
        cur.loc[late, "year"] = change(cur.loc[late, "year"])
    data = build_inputs(_with_year(w.reference), _with_year(w.golden), cur, task="classification", target="label",
                        features=[*FEATURES, "year"], timestamp="event_time")
    return _diagnose(data, _on_features(w.model))


def test_a_year_that_advances_with_time_is_healthy():
    assert _year_verdict().root_cause == "healthy"


@pytest.mark.parametrize(("change", "transform"), [
    (lambda y: y * 2.20462, "affine"),
    (lambda y: y * 7.3, "affine"),  # no unit's factor: the served years' own spacing, 7.3, gives it
    (lambda y: y * 1.8 + 32, "affine"),
    (np.log, "natural log"),
])
def test_a_year_redefined_mid_log_is_recalibration_not_novelty(change, transform):
    """Its changed rows hold only the latest years, so their mix never matches the reference's;
    that each one maps back exactly onto a year the reference holds is the evidence."""
    verdict = _year_verdict(change)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("year",)
    assert verdict.top.evidence["transform"] == transform
    assert verdict.top.evidence["mapped_onto_reference"] >= 0.99
    assert verdict.top.onset is not None and verdict.top.onset.pattern == "step"


@pytest.mark.parametrize("step", [1.8, 2.7])
def test_a_year_rounded_to_a_coarser_grid_mid_log_is_recalibration_not_drift(step):
    """Snapped, the latest years match no earlier rows' snapped years; that they left the whole
    numbers the feature always held, for a grid, is the evidence: drift keeps years whole."""
    verdict = _year_verdict(lambda y: np.round(y / step) * step)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("year",)
    assert verdict.top.evidence["transform"] == "grid_round"
    assert verdict.top.evidence["step"] == pytest.approx(step)


@pytest.mark.parametrize("timed", [True, False], ids=["mid-log", "no-timestamp"])
def test_a_seven_point_scale_rounded_to_a_coarser_grid_is_recalibration(timed):
    """Seven whole values rounded to steps of 1.4 leave five codes: too few values for the grid check's
    usual twice-as-many, but values off the whole numbers the scale always held are no drift. Mid-log,
    part of the log is on the grid; without a timestamp, the whole of it."""
    w, rng = world(), np.random.default_rng(12)

    def with_scale(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(scale=rng.choice(np.arange(1.0, 8.0), len(frame), p=[.1, .15, .2, .2, .15, .1, .1]))

    cur = with_scale(current(2000, seed=41))
    rounded = _second_half(cur) if timed else np.ones(len(cur), dtype=bool)
    cur.loc[rounded, "scale"] = np.round(cur.loc[rounded, "scale"] / 1.4) * 1.4
    data = build_inputs(with_scale(w.reference), with_scale(w.golden), cur, task="classification", target="label",
                        features=[*FEATURES, "scale"], timestamp="event_time" if timed else None)
    verdict = _diagnose(data, _on_features(w.model))

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("scale",)
    assert verdict.top.evidence["transform"] == "grid_round"
    assert verdict.top.evidence["step"] == pytest.approx(1.4)


@pytest.mark.parametrize("origin", [1940.0, -30.5])
def test_a_whole_number_feature_of_many_values_rescaled_mid_log_is_recalibration_not_novelty(origin):
    """Sixty years (or half quarters from a cutoff) advancing with the rows: too many values to
    bin one by one, yet every one on a lattice, so values off it that map back onto it are the
    evidence, though the rows before the change differ from the reference too."""
    def with_years(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(year=origin + np.floor(60 * np.arange(len(frame)) / len(frame)))

    w = world()
    cur = with_years(current(3000, seed=47))
    late = _second_half(cur)
    cur.loc[late, "year"] = cur.loc[late, "year"] * 0.621371
    data = build_inputs(with_years(w.reference), with_years(w.golden), cur, task="classification", target="label",
                        features=[*FEATURES, "year"], timestamp="event_time")
    verdict = _diagnose(data, _on_features(w.model))

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("year",)
    assert "mi" in verdict.top.evidence["unit"]
    assert verdict.top.evidence["mapped_onto_reference"] >= 0.99


@pytest.mark.parametrize("change", ["spread", "more"])
def test_a_count_that_drifts_is_drift_not_a_unit_that_whole_numbers_rule_out(change):
    """Visits spread out or grow, every value still a whole number: x1.609 (miles to km) may fit
    their quantiles, but it would have made fractions of a visit, and x2 (radius to diameter)
    would have made every count even."""
    cur = current(3000, seed=48)
    ramp = np.linspace(0, 1, len(cur))
    if change == "spread":
        cur["visits"] = np.clip(np.round(3 + (cur["visits"] - 3) * (1 + 1.5 * ramp)), 0, None)
    else:
        cur["visits"] = cur["visits"] + np.random.default_rng(12).poisson(4 * ramp)

    verdict = _diagnose(inputs(cur), world().model)

    assert not any(c.cause == "feature_recalibration" and c.score > 0 for c in verdict.causes), verdict.summary


def test_a_year_stuck_at_zero_is_a_default_not_novelty():
    verdict = _year_verdict(lambda y: 0.0)

    assert verdict.root_cause == "feature_unavailability", verdict.summary
    assert verdict.top.features == ("year",)
    assert verdict.top.evidence["default_value"] == 0.0


def _extra_categorical_verdict(column: str, shares: dict[str, float], change, seed: int, change_seed: int):
    """The world's model with one more categorical `column` (values drawn at `shares`, tied to
    nothing else in a row), `change` applied to the second half of a log."""
    def with_column(frame: pd.DataFrame, rows_seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(rows_seed)
        return frame.assign(**{column: rng.choice(list(shares), len(frame), p=list(shares.values()))})

    w = world()
    cur = with_column(current(3000, seed=seed), 3)
    change(cur, _second_half(cur), np.random.default_rng(change_seed))
    data = build_inputs(with_column(w.reference, 1), with_column(w.golden, 2), cur, task="classification",
                        target="label", features=[*FEATURES, column], categorical=("plan", "region", column),
                        timestamp="event_time")
    return _diagnose(data, _on_features(w.model))


def _channel_verdict(change):
    """A categorical whose most common value (`web`) most rows hold."""
    return _extra_categorical_verdict("channel", {"web": 0.75, "store": 0.15, "phone": 0.10}, change, seed=42, change_seed=5)


def test_a_categorical_frozen_on_its_most_common_value_is_a_default_not_drift():
    def freeze(cur, late, rng):
        cur.loc[late, "channel"] = "web"

    verdict = _channel_verdict(freeze)

    assert verdict.root_cause == "feature_unavailability", verdict.summary
    assert verdict.top.features == ("channel",)
    assert verdict.top.evidence["default_value"] == "web"


def test_its_most_common_value_growing_more_common_is_drift_not_a_default():
    def grow(cur, late, rng):
        cur.loc[late & (rng.random(len(cur)) < 0.9), "channel"] = "web"  # about 97% web, never every row

    verdict = _channel_verdict(grow)

    assert verdict.root_cause == "data_drift", verdict.summary
    assert verdict.top.features == ("channel",)


@lru_cache(maxsize=None)
def _flag_world():
    """A world whose most telling feature is a 0/1 flag (a third of rows are members), tied to
    another feature as real flags are: members are older."""
    def rows(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        member = (rng.random(n) < 0.3).astype(float)
        age = rng.normal(35 + 12 * member, 8, n)
        spend = rng.gamma(2.0, 50.0, n)
        savings = np.where(rng.random(n) < 0.45 - 0.2 * member, 0.0, rng.lognormal(8, 1, n))  # many have none
        logit = -1.0 + 2.5 * member + 0.03 * (age - 40) + 0.004 * (spend - 100) + 0.5 * (savings > 0)
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        return pd.DataFrame({"member": member, "age": age, "spend": spend, "savings": savings, "label": label})

    reference, golden, pool = rows(4000, 11), rows(1500, 12), rows(20000, 13)
    features = ["member", "age", "spend", "savings"]
    est = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(reference[features], reference["label"])
    model = ModelHandle("flags", "1", est.predict, est.predict_proba, tuple(est.classes_), tuple(features))
    return reference, golden, pool, features, model


def _flag_verdict(change):
    reference, golden, pool, features, model = _flag_world()
    cur = change(pool, np.random.default_rng(21)).iloc[:3000].reset_index(drop=True)
    cur["event_time"] = pd.date_range("2026-01-01", periods=len(cur), freq="10min")
    data = build_inputs(reference, golden, cur, task="classification", target="label", features=features,
                        timestamp="event_time")
    return _diagnose(data, model)


def _stuck(value: float, share: float):
    def change(pool, rng):
        cur = pool.iloc[:3000].copy()
        late = (cur.index >= 1500) & (rng.random(len(cur)) < share)
        cur.loc[late, "member"] = value
        return cur
    return change


@pytest.mark.parametrize("change", [_stuck(1.0, 0.75), _stuck(0.0, 0.6)], ids=["stale_on_1", "default_0"])
def test_a_flag_stuck_on_one_of_its_own_values_is_a_default_not_drift_nor_a_changed_relation(change):
    """Stuck rows keep their other features and labels, so the flag's value no longer says what
    it said: the rows on the grown value carry the other value's labels."""
    verdict = _flag_verdict(change)

    assert verdict.root_cause == "feature_unavailability", verdict.summary
    assert verdict.top.features == ("member",)
    assert "other values' labels" in verdict.top.evidence["default_because"]


def test_a_flag_whose_members_grow_in_number_is_drift_not_a_stuck_value():
    """Real members arrive: more rows hold 1, and each is a member in every other respect."""
    def change(pool, rng):
        late_pool = pool.iloc[3000:]
        members = late_pool[late_pool["member"] == 1].iloc[:1300]
        others = late_pool[late_pool["member"] == 0].iloc[:200]
        late = pd.concat([members, others]).sample(frac=1.0, random_state=1)
        return pd.concat([pool.iloc[:1500], late])

    verdict = _flag_verdict(change)

    assert verdict.root_cause == "data_drift", verdict.summary
    assert verdict.top.features[0] == "member"


def test_a_flag_served_in_another_unit_is_mapped_back_one_to_one():
    """32 and 33.8 (0 and 1 through C -> F) both sit within a hair of 0 after x 10^-4: a map that
    merges distinct values is no unit change, and repairing with it would undo nothing."""
    def change(pool, rng):
        cur = pool.iloc[:3000].copy()
        cur.loc[cur.index >= 1500, "member"] = cur.loc[cur.index >= 1500, "member"] * 1.8 + 32
        return cur

    verdict = _flag_verdict(change)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("member",)
    assert (verdict.top.evidence["scale"], verdict.top.evidence["offset"]) == pytest.approx((1.8, 32.0))


def test_a_value_missing_upstream_and_filled_differently_by_each_pipeline_is_skew_not_a_changed_relation():
    """Serving fills -1, training the mean: repaired to training's value the rows still lack the
    truth, so what they cost is the fault's, not a relation that changed on other features."""
    reference, golden, pool, features, model = _flag_world()
    cur = pool.iloc[:3000].reset_index(drop=True).assign(id=np.arange(3000))
    cur["event_time"] = pd.date_range("2026-01-01", periods=len(cur), freq="10min")
    missing = np.random.default_rng(22).random(len(cur)) < 0.4
    view = cur[["id", "member"]].copy()
    view.loc[missing, "member"] = reference["member"].mean()
    cur.loc[missing, "member"] = -1.0
    data = build_inputs(reference, golden, cur, task="classification", target="label", features=features,
                        timestamp="event_time", entity_id="id", training_view=view)

    verdict = _diagnose(data, model)

    assert verdict.root_cause == "training_serving_skew", verdict.summary
    assert verdict.top.features == ("member",)
    assert list(verdict.top.evidence["filled"]) == [-1.0, pytest.approx(reference["member"].mean())]
    assert not any(c.cause == "feature_drift" and c.score > 0.5 for c in verdict.causes), verdict.summary


def test_a_unit_change_rolled_out_to_a_growing_share_of_rows_is_a_recalibration():
    """Income in hundreds instead of units, on 0% of the first rows to 100% of the last: no
    window maps back as a whole, but each value does under one unit or the other."""
    cur = current(3000, seed=43)
    moved = np.random.default_rng(6).random(len(cur)) < np.linspace(0, 1, len(cur))
    cur.loc[moved, "income"] = cur.loc[moved, "income"] * 0.01

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("income",)
    assert verdict.top.evidence["scale"] == pytest.approx(0.01)
    rolled = verdict.top.evidence["rolled_out"]
    assert rolled[0] < 0.2 and rolled[-1] > 0.8


def test_a_year_served_as_bucket_numbers_is_recalibration_not_novelty():
    """Fourteen build years onto ten codes: too few distinct values for the usual "many values
    onto a few codes" test, but codes that leave the whole range of years are no new population."""
    def with_built(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        return frame.assign(built=np.random.default_rng(seed).integers(1990, 2004, len(frame)).astype(float))

    w = world()
    cur = with_built(current(3000, seed=44), 3)
    late = _second_half(cur)
    cur.loc[late, "built"] = np.floor((cur.loc[late, "built"] - 1990) * 10 / 14)
    data = build_inputs(with_built(w.reference, 1), with_built(w.golden, 2), cur, task="classification",
                        target="label", features=[*FEATURES, "built"], timestamp="event_time")
    verdict = _diagnose(data, _on_features(w.model))

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("built",)
    assert verdict.top.evidence["transform"].startswith("grid_")


def test_more_rows_on_a_value_the_reference_often_holds_is_drift_not_a_stuck_default():
    """Savings of 0 are a third of the reference; more people without savings arriving is drift,
    though 0 is one exact value of a feature with thousands."""
    def change(pool, rng):
        late_pool = pool.iloc[3000:]
        none = late_pool[late_pool["savings"] == 0].iloc[:900]
        some = late_pool[late_pool["savings"] > 0].iloc[:600]
        return pd.concat([pool.iloc[:1500], pd.concat([none, some]).sample(frac=1.0, random_state=2)])

    verdict = _flag_verdict(change)

    assert not any(c.cause == "feature_unavailability" and c.score > 0 for c in verdict.causes), verdict.summary


def test_a_year_imputed_with_its_mean_is_a_default_though_the_other_years_move_with_time():
    """The mean year (about 2007.4 here) is no year at all: rows on it are imputed, whatever the
    rest of the log does."""
    def with_year(frame: pd.DataFrame) -> pd.DataFrame:  # more rows in later years: the mean falls between
        return frame.assign(year=2000 + np.floor(13 * np.sqrt(np.arange(len(frame)) / len(frame))))

    w = world()
    mean = float(with_year(w.reference)["year"].mean())
    cur = with_year(current(3000, seed=40))
    late = _second_half(cur) & (np.random.default_rng(7).random(len(cur)) < 0.7)
    cur.loc[late, "year"] = mean
    data = build_inputs(with_year(w.reference), with_year(w.golden), cur, task="classification", target="label",
                        features=[*FEATURES, "year"], timestamp="event_time")
    verdict = _diagnose(data, _on_features(w.model))

    assert abs(mean - round(mean)) > 0.1
    assert verdict.root_cause == "feature_unavailability", verdict.summary
    assert verdict.top.features == ("year",)
    assert verdict.top.evidence["default_value"] == pytest.approx(mean)


def _source_verdict(change):
    """A six-valued categorical (the acquisition source) that nothing else in a row predicts."""
    shares = {"search": 0.4, "direct": 0.25, "social": 0.15, "email": 0.1, "partner": 0.06, "print": 0.04}
    return _extra_categorical_verdict("source", shares, change, seed=45, change_seed=8)


def test_codes_reassigned_on_a_feature_nothing_else_predicts_are_found_by_their_frequencies():
    def permute(cur, late, rng):
        recode = {"search": "social", "social": "partner", "partner": "search", "direct": "print", "print": "direct"}
        cur.loc[late, "source"] = cur.loc[late, "source"].map(lambda v: recode.get(v, v))

    verdict = _source_verdict(permute)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("source",)
    assert verdict.top.evidence["kind"] == "codes_permuted"


def test_shares_of_such_a_feature_moving_are_drift_not_codes_reassigned():
    def drift(cur, late, rng):
        cur.loc[late & (rng.random(len(cur)) < 0.5), "source"] = "email"

    verdict = _source_verdict(drift)

    assert not any(c.cause == "feature_recalibration" and c.score > 0 for c in verdict.causes), verdict.summary


def test_a_value_served_from_the_previous_event_is_skew_even_without_a_training_view():
    """Its distribution is the reference's, so only row alignment tells: each served score lines
    up with the previous row's age, not its own."""
    cur = current(3000, seed=46)
    lagged = np.random.default_rng(9).random(len(cur)) < 0.45
    cur.loc[lagged, "score"] = cur["score"].shift(1).fillna(cur["score"])[lagged]

    verdict = _diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "training_serving_skew", verdict.summary
    assert verdict.top.features == ("score",)
    assert verdict.top.evidence["kind"] == "lagged_without_view"


@lru_cache(maxsize=None)
def _segment_world():
    """A world whose most telling feature is a six-valued segment that the other features tell
    apart, as real categories are: each segment spends and stays differently."""
    shares = {"retail": 0.4, "smb": 0.25, "enterprise": 0.15, "public": 0.1, "student": 0.06, "partner": 0.04}
    spend_of = dict(zip(shares, [50.0, 120.0, 400.0, 200.0, 20.0, 260.0]))
    risk_of = dict(zip(shares, [0.0, 0.8, -1.2, 0.4, 1.5, -0.6]))

    def rows(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        segment = rng.choice(list(shares), n, p=list(shares.values()))
        spend = np.array([spend_of[s] for s in segment]) * rng.lognormal(0, 0.3, n)
        tenure = rng.gamma(3.0, 2.0, n) + np.array([list(shares).index(s) for s in segment])
        logit = np.array([risk_of[s] for s in segment]) + 0.2 * (tenure - 8) / 3
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        return pd.DataFrame({"segment": segment, "spend": spend, "tenure": tenure, "label": label})

    reference, golden, pool = rows(5000, 31), rows(1500, 32), rows(20000, 33)
    features = ["segment", "spend", "tenure"]
    encode = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                 ["segment"])], remainder="passthrough")
    est = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=60, random_state=0))
    est.fit(reference[features], reference["label"])
    model = ModelHandle("segments", "1", est.predict, est.predict_proba, tuple(est.classes_), tuple(features))
    return reference, golden, pool, features, model


def _put_rows(cur: pd.DataFrame, at: np.ndarray, rows: pd.DataFrame) -> None:
    """Whole rows of `rows` in place of `cur`'s rows `at`, each column keeping its dtype."""
    for column in ["segment", "spend", "tenure", "label"]:
        cur.loc[at, column] = rows[column].to_numpy()[:len(at)]


def _segment_verdict(change):
    reference, golden, pool, features, model = _segment_world()
    cur = pool.iloc[:3000].copy().reset_index(drop=True)
    change(cur, np.random.default_rng(23))
    cur["event_time"] = pd.date_range("2026-01-01", periods=len(cur), freq="10min")
    data = build_inputs(reference, golden, cur, task="classification", target="label", features=features,
                        categorical=("segment",), timestamp="event_time")
    return _diagnose(data, model)


def test_codes_reassigned_on_part_of_the_rows_from_the_start_are_a_recalibration_not_drift():
    """One of two upstream sources files its rows under other codes: each code now holds a mix of
    its own rows and another code's, which the other features show (its spend is not its own)."""
    def permute_some(cur, rng):
        codes = ["retail", "smb", "enterprise", "public", "student", "partner"]
        recode = dict(zip(codes, codes[1:] + codes[:1]))
        some = rng.random(len(cur)) < 0.6
        cur.loc[some, "segment"] = cur.loc[some, "segment"].map(recode)

    verdict = _segment_verdict(permute_some)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("segment",)
    assert verdict.top.evidence["kind"] == "codes_permuted"
    assert verdict.top.evidence["share"] == pytest.approx(0.6, abs=0.1)


def test_segments_whose_shares_move_with_their_own_rows_are_drift_not_codes_reassigned():
    """More students and fewer retail customers: every code keeps its own rows (their spend)."""
    def drift(cur, rng):
        reference, golden, pool, features, model = _segment_world()
        students = pool.iloc[3000:][pool["segment"].iloc[3000:] == "student"]
        retail = cur.index[cur["segment"] == "retail"]
        take = rng.choice(retail, size=len(retail) * 2 // 3, replace=False)
        _put_rows(cur, take, students)

    verdict = _segment_verdict(drift)

    assert verdict.root_cause == "data_drift", verdict.summary
    assert verdict.top.features[0] == "segment"  # students spend less: spend drifts with them


@pytest.mark.parametrize(("value", "rollout"), [("retail", 0.8), ("partner", 0.6)], ids=["most_common", "rare"])
def test_a_segment_stuck_on_for_a_growing_share_is_a_default_not_drift(value, rollout):
    """A growing share of rows filed under one segment whatever they are: the rows on it now spend
    like every segment, not like that one. 'retail' is the most common (the labels tell it from the
    rest too little); 'partner' is 4% of the reference with no placeholder name, so nothing else
    marks it as a default."""
    def stuck(cur, rng):
        some = rng.random(len(cur)) < rollout * np.arange(len(cur)) / len(cur)
        cur.loc[some, "segment"] = value

    verdict = _segment_verdict(stuck)

    assert verdict.root_cause == "feature_unavailability", verdict.summary
    assert verdict.top.features == ("segment",)
    assert verdict.top.evidence["default_value"] == value


def test_retail_customers_growing_in_number_is_drift_not_a_stuck_value():
    def more_retail(cur, rng):
        reference, golden, pool, features, model = _segment_world()
        retail = pool.iloc[3000:][pool["segment"].iloc[3000:] == "retail"]
        late = cur.index[(cur.index >= len(cur) // 3) & (cur["segment"] != "retail").to_numpy()]
        take = rng.choice(late, size=len(late) * 3 // 4, replace=False)
        _put_rows(cur, take, retail)

    verdict = _segment_verdict(more_retail)

    assert not any(c.cause == "feature_unavailability" and c.score > 0 for c in verdict.causes), verdict.summary
    assert any(c.cause == "data_drift" and c.features[:1] == ("segment",) for c in verdict.causes[:2]), verdict.summary


def test_partners_growing_in_number_is_drift_not_a_stuck_value():
    def more_partners(cur, rng):
        reference, golden, pool, features, model = _segment_world()
        partners = pool.iloc[3000:][pool["segment"].iloc[3000:] == "partner"]
        late = cur.index[(cur.index >= len(cur) // 3) & (cur["segment"] != "partner").to_numpy()]
        take = rng.choice(late, size=min(len(late) // 3, len(partners)), replace=False)
        _put_rows(cur, take, partners)

    verdict = _segment_verdict(more_partners)

    assert not any(c.cause == "feature_unavailability" and c.score > 0 for c in verdict.causes), verdict.summary
    assert any(c.cause == "data_drift" and "segment" in c.features[:2] for c in verdict.causes[:2]), verdict.summary


def _world_with(feature: str, column: Callable[[np.random.Generator, pd.DataFrame], tuple[np.ndarray, np.ndarray]],
                seeds: tuple[int, int]) -> tuple[Callable[[pd.DataFrame, int], pd.DataFrame], pd.DataFrame, pd.DataFrame,
                                                  ModelHandle, list[str]]:
    """The synthetic world plus one feature the label leans on: `column(rng, frame)` gives its
    values and the label's logit. Returns the row maker, reference, golden set, model and features."""
    def rows(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        values, logit = column(rng, frame)
        return frame.assign(**{feature: values, "label": (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)})

    features = [*FEATURES, feature]
    reference, golden = rows(make_rows(4000, 1), seeds[0]), rows(make_rows(1000, 2), seeds[1])
    encode = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                 ["plan", "region"])], remainder="passthrough")
    est = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=60, random_state=0))
    est.fit(reference[features], reference["label"])
    model = ModelHandle(feature, "1", est.predict, est.predict_proba, tuple(est.classes_), tuple(features))
    return rows, reference, golden, model, features


def test_whole_number_populations_served_in_hundreds_are_repaired_on_every_row_not_only_those_past_the_range():
    """Populations over five decades, all whole: x100 keeps every value whole and leaves three
    in five inside the range the reference holds, so values off that range are only part of the
    changed rows. Every row after the change is repaired, and the repair recovers the drop."""
    def population(rng: np.random.Generator, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values = np.round(10 ** rng.uniform(2, 7, len(frame)))
        return values, 2.0 * (np.log10(values) - 4.5) + 0.5 * frame["score"]

    rows, reference, golden, model, features = _world_with("population", population, (61, 62))
    cur = rows(current(3000, seed=63), 64)
    clean = float((model.predict(cur[features]) == cur["label"]).mean())  # what the repair should come back to
    late = _second_half(cur)
    cur.loc[late, "population"] = cur.loc[late, "population"] * 100

    verdict = _diagnose(build_inputs(reference, golden, cur, task="classification", target="label", features=features,
                                     timestamp="event_time"), model)

    assert verdict.root_cause == "feature_recalibration" and verdict.top.features[0] == "population", verdict.summary
    recovery = verdict.top.recovery
    assert recovery is not None and recovery.after - recovery.before >= 0.8 * (clean - recovery.before) > 0.05, recovery


def test_rows_in_the_margin_of_a_heavy_tailed_features_seen_range_are_novel_not_a_changed_relation():
    """A long right tail widens the margin the seen range allows past the reference's top values.
    Rows placed in that margin keep their labels, so the model is wrong on them; they are far
    from every training row, and their errors belong to novelty, not to a relation that changed
    where the model was trained."""
    def amount(rng: np.random.Generator, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values = np.exp(rng.normal(7, 1.5, len(frame)))
        return values, 1.5 * (np.log(values) - 7) + 0.5 * frame["score"]

    rows, reference, golden, model, features = _world_with("amount", amount, (71, 72))
    cur = rows(current(3000, seed=73), 74)
    rng = np.random.default_rng(75)
    novel = _second_half(cur) & (rng.random(len(cur)) < 0.4)
    top, edge = np.quantile(reference["amount"], 0.999), numeric_reference("amount", reference["amount"].to_numpy()).support[1]
    cur.loc[novel, "amount"] = edge - (edge - top) * 0.3 * rng.random(int(novel.sum()))  # inside the seen range

    verdict = _diagnose(build_inputs(reference, golden, cur, task="classification", target="label", features=features,
                                     timestamp="event_time"), model)

    assert verdict.production["dropped"] is True
    assert verdict.root_cause == "prediction_label_bias", verdict.summary
    assert verdict.top.explains is not None and verdict.top.explains.share > 0.5, verdict.top.explains

"""Every test whose p-value feeds a verdict holds its level when nothing changed.

Each check draws reference (or golden) and production rows from one distribution, at
production sizes from 300 to 200,000 rows, and counts how often p <= alpha. The count must stay
within sampling noise of alpha (a one-sided 99% binomial margin): a test that rejects more
often than it says turns noise into findings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlflow_postmortem import attribution, stats
from mlflow_postmortem.detectors.data_drift import drift_counts
from mlflow_postmortem.detectors.feature_drift import _permutation_pvalue
from mlflow_postmortem.detectors.label_bias import _good_turing, _natural
from mlflow_postmortem.profile import categorical_reference, numeric_reference

SIZES = (300, 2_000, 20_000, 200_000)
ALPHAS = (0.01, 0.05)


def zipf_words(rng: np.random.Generator, a: float, n: int) -> pd.Series:
    """Zipf-distributed categories as strings; each distinct value converted once (as Parquet's do)."""
    values, rows = np.unique(rng.zipf(a, n), return_inverse=True)
    return pd.Series(values.astype(str).astype(object)[rows])


def assert_holds_level(pvalues: list[float]) -> None:
    p = np.asarray(pvalues)
    for alpha in ALPHAS:
        margin = 2.33 * np.sqrt(alpha * (1 - alpha) / len(p))
        assert np.mean(p <= alpha) <= alpha + margin, f"{np.mean(p <= alpha):.3f} of p-values <= {alpha} ({len(p)} runs)"


@pytest.mark.parametrize("size", SIZES)
def test_drift_chi_square_on_reference_bins_holds_its_level(size: int) -> None:
    rng = np.random.default_rng(size)
    pvalues = []
    for _ in range(150):
        ref = numeric_reference("x", rng.lognormal(0, 1, 20_000))
        cats = categorical_reference("c", zipf_words(rng, 1.6, 20_000))  # many rare categories
        x = rng.lognormal(0, 1, size)
        c = zipf_words(rng, 1.6, size)
        pvalues.append(stats.homogeneity_pvalue(drift_counts(ref, ref.summary.counts), drift_counts(ref, ref.bin_counts(x))))
        counts = np.bincount(np.where((k := cats.codes(c)) == -1, len(cats.summary.counts) - 1, k),
                             minlength=len(cats.summary.counts))
        pvalues.append(stats.homogeneity_pvalue(drift_counts(cats, cats.summary.counts), drift_counts(cats, counts)))
    assert_holds_level(pvalues)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("share", [0.005, 0.05, 0.3])
def test_share_increase_test_holds_its_level(size: int, share: float) -> None:
    rng = np.random.default_rng([size, int(share * 1000)])
    n_ref = 20_000
    pvalues = [stats.proportion_increase_pvalue(int(rng.binomial(n_ref, share)), n_ref, int(rng.binomial(size, share)), size)
               for _ in range(300)]
    assert_holds_level(pvalues)


@pytest.mark.parametrize("size", SIZES)
def test_novelty_rates_tested_against_the_reference_own_rate_hold_their_level(size: int) -> None:
    """Values beyond the seen range of a heavy tail, and categories the reference never held."""
    rng = np.random.default_rng(size + 1)
    pvalues = []
    for _ in range(100):
        reference = rng.standard_t(3, 20_000)
        ref = numeric_reference("x", reference)
        k_ref, n_ref, _ = _natural(ref, pd.Series(reference[:10_000]))
        current = rng.standard_t(3, size)
        k_cur = int(np.count_nonzero((current < ref.support[0]) | (current > ref.support[1])))
        pvalues.append(stats.proportion_increase_pvalue(k_ref, n_ref, k_cur, size))

        words = zipf_words(rng, 1.3, 20_000)
        cats = categorical_reference("c", words)
        k_ref, n_ref, _ = _good_turing(cats)
        unseen = int(np.count_nonzero(cats.codes(zipf_words(rng, 1.3, size)) == -1))
        pvalues.append(stats.proportion_increase_pvalue(k_ref, n_ref, unseen, size))
    assert_holds_level(pvalues)


@pytest.mark.parametrize("size", (300, 2_000, 200_000))
def test_relation_change_permutation_test_holds_its_level(size: int) -> None:
    """Brier losses of one model on golden and production rows drawn alike (production subsampled
    to 10,000 rows as the detector does)."""
    rng = np.random.default_rng(size + 2)
    n = min(size, 10_000)

    def losses(rows: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=rows)
        p = 1 / (1 + np.exp(-2 * x))
        y = rng.random(rows) < p
        predicted = 1 / (1 + np.exp(-1.5 * x))
        bins = np.searchsorted(np.linspace(-1.5, 1.5, 9), x)
        return bins, 2 * (y - predicted) ** 2

    pvalues = []
    for _ in range(120):
        g_bins, g_loss = losses(1_000)
        c_bins, c_loss = losses(n)
        pvalues.append(_permutation_pvalue(c_bins, c_loss, g_bins, g_loss, 99, rng))
    assert_holds_level(pvalues)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("metric", ["accuracy", "rmse"])
def test_production_drop_test_holds_its_level(size: int, metric: str) -> None:
    """Production against golden on one distribution of per-row results (skewed squared errors for RMSE)."""
    rng = np.random.default_rng([size, len(metric)])

    def rows(n: int) -> np.ndarray:
        return (rng.random(n) < 0.8).astype(float) if metric == "accuracy" else rng.standard_t(5, n) ** 2

    pvalues = [attribution.worse_pvalue(metric, rows(size), rows(1_000)) for _ in range(300)]
    assert_holds_level(pvalues)


@pytest.mark.parametrize("size", SIZES)
def test_label_free_prior_shift_test_on_mean_probabilities_holds_its_level(size: int) -> None:
    """A model's skewed class probabilities on golden and production rows drawn alike (Welch)."""
    rng = np.random.default_rng(size + 4)
    pvalues = [stats.welch_pvalue(rng.beta(0.5, 3, size), rng.beta(0.5, 3, 1_000)) for _ in range(300)]
    assert_holds_level(pvalues)


@pytest.mark.parametrize("size", (300, 20_000))
def test_stratified_concept_test_holds_its_level(size: int) -> None:
    """Production against golden rows stratified by model score (van Elteren) when nothing changed."""
    rng = np.random.default_rng(size + 3)
    pvalues = []
    for _ in range(200):
        g_score, c_score = rng.random(1_000), rng.random(size)
        g_rows, c_rows = rng.standard_t(5, 1_000) ** 2 * (1 + g_score), rng.standard_t(5, size) ** 2 * (1 + c_score)
        g_strata, c_strata = attribution.strata(g_score, c_score)
        pvalues.append(attribution.worse_pvalue("rmse", c_rows, g_rows, c_strata, g_strata))
    assert_holds_level(pvalues)


def test_moved_inputs_with_the_relation_intact_rarely_make_a_concept_finding() -> None:
    """Strata are coarse, so on big data a moved input mix leaves a small significant gap inside
    them; the effect size (5% RMSE) keeps it from becoming a finding more often than the level."""
    from mlflow_postmortem.detectors import FeatureDrift

    detector, rng, findings = FeatureDrift(), np.random.default_rng(4), []
    for _ in range(100):
        g_score, c_score = rng.random(1_000), rng.random(200_000) ** 0.5  # production scores higher
        g_rows, c_rows = rng.standard_t(5, 1_000) ** 2 * (1 + g_score), rng.standard_t(5, 200_000) ** 2 * (1 + c_score)
        g_strata, c_strata = attribution.strata(g_score, c_score)
        expected, _ = attribution.stratified_estimate("rmse", g_rows, g_strata, c_strata)
        production = attribution.MetricEstimate.of("rmse", c_rows)
        gap = attribution.gap(production, expected, attribution.worse_pvalue("rmse", c_rows, g_rows, c_strata, g_strata))
        findings.append(gap.p_value <= detector.fdr and gap.material(detector.min_accuracy_drop,
                                                                      detector.min_relative_rmse_rise))
    assert np.mean(findings) <= detector.fdr + 2.33 * np.sqrt(detector.fdr * (1 - detector.fdr) / len(findings))

"""One detector per root cause, run in the order below (see `base` for why order matters)."""

from .base import MIN_ROWS, Context, Detector
from .data_drift import DataDrift
from .feature_drift import FeatureDrift
from .label_bias import LabelBias
from .model_regression import ModelRegression
from .recalibration import Recalibration
from .skew import Skew, SkewWithoutView
from .unavailability import Unavailability

#: stage 1 (integrity) first: each feature it flags is explained and skipped by the rest
STAGE_1: tuple[Detector, ...] = (ModelRegression(), Skew(), Unavailability(), Recalibration(), SkewWithoutView())
STAGE_2: tuple[Detector, ...] = (LabelBias(), DataDrift(), FeatureDrift())
ALL: tuple[Detector, ...] = STAGE_1 + STAGE_2

__all__ = ["ALL", "MIN_ROWS", "STAGE_1", "STAGE_2", "Context", "DataDrift", "Detector", "FeatureDrift", "LabelBias",
           "ModelRegression", "Recalibration", "Skew", "SkewWithoutView", "Unavailability"]

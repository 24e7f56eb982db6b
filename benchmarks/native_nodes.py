"""Nodes of figure 8's PipelineML: numpy in, numpy out, the work of an sklearn Pipeline.

Training fits a median imputer, a standard scaler and a logistic regression on scikit-learn's
bundled breast-cancer data (as numpy arrays, so no step records feature names); inference
applies them exactly as ``sklearn.pipeline.Pipeline.predict_proba`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def fit_imputer(features: np.ndarray) -> SimpleImputer:
    """Median imputation."""
    return SimpleImputer(strategy="median").fit(features)


def fit_scaler(features: np.ndarray, imputer: SimpleImputer) -> StandardScaler:
    """Standardisation of the imputed features."""
    return StandardScaler().fit(imputer.transform(features))


def fit_model(
    features: np.ndarray, labels: np.ndarray, imputer: SimpleImputer, scaler: StandardScaler
) -> LogisticRegression:
    """A logistic regression on the prepared features."""
    prepared = scaler.transform(imputer.transform(features))
    return LogisticRegression(max_iter=500).fit(prepared, labels)


def impute(instances: Any, imputer: SimpleImputer) -> np.ndarray:
    """``imputer.transform``."""
    result: np.ndarray = imputer.transform(instances)
    return result


def scale(imputed: np.ndarray, scaler: StandardScaler) -> np.ndarray:
    """``scaler.transform``."""
    result: np.ndarray = scaler.transform(imputed)
    return result


def predict(scaled: np.ndarray, model: LogisticRegression) -> np.ndarray:
    """``model.predict_proba``: both class probabilities."""
    result: np.ndarray = model.predict_proba(scaled)
    return result

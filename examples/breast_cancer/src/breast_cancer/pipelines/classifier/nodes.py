"""Node functions. Inference reuses the same transformations as training."""

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

TARGET = "malignant"


def load_raw_data() -> pd.DataFrame:
    """The Wisconsin breast cancer data bundled with scikit-learn (no download)."""
    bunch = load_breast_cancer(as_frame=True)
    data = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    # scikit-learn codes 0 = malignant; the model predicts "malignant" as the positive class.
    data[TARGET] = (data.pop("target") == 0).astype(int)
    return data


def split_data(
    raw: pd.DataFrame, split: dict
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train/test split, plus a few test rows kept as a scoring sample ("instances")."""
    features = raw.drop(columns=TARGET)
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        raw[[TARGET]],
        test_size=split["test_size"],
        random_state=split["random_state"],
        stratify=raw[TARGET],
    )
    instances = x_test.head(split["sample_size"])
    return x_train, x_test, y_train, y_test, instances


def fit_imputer(x_train: pd.DataFrame) -> SimpleImputer:
    """Median imputation, fitted on training rows only."""
    return SimpleImputer(strategy="median").fit(x_train)


def fit_scaler(x_train: pd.DataFrame, imputer: SimpleImputer) -> StandardScaler:
    """Standardisation of the imputed training features."""
    return StandardScaler().fit(impute(x_train, imputer))


def train_model(
    x_train: pd.DataFrame,
    y_train: pd.DataFrame,
    imputer: SimpleImputer,
    scaler: StandardScaler,
    model_params: dict,
) -> LogisticRegression:
    """A logistic regression on the prepared features."""
    features = scale(impute(x_train, imputer), scaler)
    model = LogisticRegression(C=model_params["C"], max_iter=model_params["max_iter"])
    return model.fit(features, y_train[TARGET])


def impute(instances: pd.DataFrame, imputer: SimpleImputer) -> pd.DataFrame:
    """Fill missing values as in training."""
    return pd.DataFrame(
        imputer.transform(instances), columns=instances.columns, index=instances.index
    )


def scale(imputed: pd.DataFrame, scaler: StandardScaler) -> pd.DataFrame:
    """Standardise as in training."""
    return pd.DataFrame(scaler.transform(imputed), columns=imputed.columns, index=imputed.index)


def predict(scaled: pd.DataFrame, model: LogisticRegression, threshold: float) -> pd.DataFrame:
    """Probability of malignancy and the decision at ``threshold``."""
    probability = model.predict_proba(scaled)[:, 1]
    return pd.DataFrame(
        {"probability": probability, "malignant": (probability >= threshold).astype(int)},
        index=scaled.index,
    )


def evaluate(
    x_test: pd.DataFrame,
    y_test: pd.DataFrame,
    imputer: SimpleImputer,
    scaler: StandardScaler,
    model: LogisticRegression,
    threshold: float,
) -> dict[str, float]:
    """Test-set metrics of the exact inference computation."""
    scored = predict(scale(impute(x_test, imputer), scaler), model, threshold)
    truth = y_test[TARGET]
    return {
        "accuracy": float(accuracy_score(truth, scored["malignant"])),
        "precision": float(precision_score(truth, scored["malignant"])),
        "recall": float(recall_score(truth, scored["malignant"])),
        "roc_auc": float(roc_auc_score(truth, scored["probability"])),
    }


def evaluation_report(
    x_test: pd.DataFrame,
    y_test: pd.DataFrame,
    imputer: SimpleImputer,
    scaler: StandardScaler,
    model: LogisticRegression,
    threshold: float,
) -> tuple[dict[str, object], dict[int, float]]:
    """The test-set confusion matrix (a JSON report), and the recall at each threshold
    from 10% to 90% (a metric history whose step is the threshold in percent)."""
    scored = predict(scale(impute(x_test, imputer), scaler), model, threshold)
    truth = y_test[TARGET]
    matrix = confusion_matrix(truth, scored["malignant"], labels=[0, 1])
    report = {
        "threshold": threshold,
        "labels": ["benign", "malignant"],
        "rows_are": "truth",
        "matrix": matrix.tolist(),
    }
    recall_by_threshold = {
        percent: float(recall_score(truth, (scored["probability"] >= percent / 100).astype(int)))
        for percent in range(10, 100, 10)
    }
    return report, recall_by_threshold

"""A binary classifier's decision threshold: `train.threshold` in params.yaml.

At 0.5 the model is the pipeline scikit-learn fitted, predicting its more probable class. Another
number, or `cv`, wraps the fitted pipeline in scikit-learn's FixedThresholdClassifier: the positive
class (metrics.positive_class) when its probability is at least the threshold. `cv` chooses the
threshold that maximises the primary metric on out-of-fold predictions of the training rows, so no
row scores a threshold chosen on itself. scikit-learn is imported only when a model is fitted.
"""

from __future__ import annotations

from typing import Any

from mlops.metrics import label_metrics, positive_class

DEFAULT = 0.5
CV = "cv"
CV_FOLDS = 5  # folds of the training rows that choose a threshold under `cv`
CANDIDATES = 100  # thresholds tried under `cv`: out-of-fold probabilities at this many quantiles


def pipeline_of(model):
    """The fitted scikit-learn pipeline inside `model` (the model itself when it has no threshold)."""
    inner = getattr(model, "estimator_", None)
    return getattr(inner, "estimator", model) if inner is not None else model


def decision_of(model) -> dict[str, Any] | None:
    """{"positive_class", "threshold"} of a model with a threshold; None for the more probable class."""
    if pipeline_of(model) is model:
        return None
    return {"positive_class": str(model.pos_label), "threshold": round(float(model.threshold), 6)}


def described(model, threshold: float | str, metric: str) -> dict[str, Any] | None:
    """decision_of(model) and how the threshold was chosen (training.json's "decision")."""
    decision = decision_of(model)
    if decision is None:
        return None
    how = f"chosen on cross-validation, maximising {metric}" if threshold == CV else "train.threshold"
    return decision | {"chosen": how}


def with_threshold(model, threshold: float, features, target):
    """The fitted pipeline `model`, predicting its positive class when P(positive) >= `threshold`."""
    if threshold == DEFAULT:
        return model
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import FixedThresholdClassifier

    positive = positive_class([str(label) for label in model.classes_])
    wrapped = FixedThresholdClassifier(
        FrozenEstimator(model), threshold=threshold, pos_label=positive, response_method="predict_proba"
    )
    return wrapped.fit(features, target)  # a frozen estimator's fit fits nothing: this only records the classes


def choose(actual, positive_probability, classes: list[str], metric: str) -> float:
    """The threshold among CANDIDATES quantiles of `positive_probability` with the best `metric`; on a tie, the
    one nearest 0.5."""
    import numpy as np

    actual = np.asarray(actual).astype(str)
    probability = np.asarray(positive_probability, dtype=float)
    positive, negative = positive_class(classes), next(c for c in classes if c != positive_class(classes))
    candidates = np.unique(np.quantile(probability, np.linspace(0, 1, CANDIDATES), method="lower"))  # observed values
    candidates = candidates[(candidates > 0) & (candidates < 1)]
    best, best_score = DEFAULT, None
    for candidate in sorted(candidates, key=lambda value: abs(value - DEFAULT)):
        predicted = np.where(probability >= candidate, positive, negative)
        score = label_metrics(actual, predicted, classes, names=(metric,))[metric]
        if best_score is None or score > best_score:
            best, best_score = float(candidate), score
    return best


def out_of_fold(fit_one, features, target, seed: int):
    """P(positive) of each row from a model fitted without it, over CV_FOLDS stratified folds (`fit_one(rows)`
    fits a model on those rows of `features` and `target`)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    probability = np.empty(len(target))
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    for train_rows, held_rows in folds.split(features, target):
        model = fit_one(train_rows)
        probability[held_rows] = model.predict_proba(features.iloc[held_rows])[:, 1]
    return probability

"""A bounded L2 logistic regression, the solver under the additive risk model.

scikit-learn's ``LogisticRegression`` cannot constrain a coefficient's sign, which is what
makes a piecewise-linear effect monotone; L-BFGS-B with bounds can.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data


class BoundedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression with an L2 penalty and optional bounds per coefficient.

    Parameters
    ----------
    alpha : float
        L2 penalty on the coefficients (not the intercept), per training row.
    lower, upper : array-like of shape (n_features,), optional
        Bounds per coefficient; ``-inf``/``inf`` or ``None`` for none.
    max_iter : int
        L-BFGS-B iterations.
    tol : float
        Gradient tolerance.

    Examples
    --------
    >>> X = np.array([[0.], [1.], [2.], [3.]]); y = np.array([0, 0, 1, 1])
    >>> BoundedLogisticRegression(alpha=0.01).fit(X, y).predict(X).tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, alpha: float = 1e-4, lower=None, upper=None, max_iter: int = 2000,
                 tol: float = 1e-6) -> None:
        self.alpha = alpha
        self.lower = lower
        self.upper = upper
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None) -> BoundedLogisticRegression:
        X, y = validate_data(self, X, y, dtype=np.float64, accept_sparse="csr")
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            word = "one class" if len(self.classes_) == 1 else f"{len(self.classes_)} classes"
            raise ValueError("Only binary classification is supported; "
                             f"got {word}: {self.classes_.tolist()}")
        t = (y == self.classes_[1]).astype(np.float64)
        n, p = X.shape
        w = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if w.sum() <= 0:
            raise ValueError("sample_weight must not be all zero")
        w = w / w.sum()
        alpha = float(self.alpha)

        def loss(theta):
            z = X @ theta[1:] + theta[0]
            val = w @ (np.logaddexp(0.0, z) - t * z) + 0.5 * alpha * theta[1:] @ theta[1:]
            r = w * (expit(z) - t)
            grad = np.empty_like(theta)
            grad[0] = r.sum()
            grad[1:] = X.T @ r + alpha * theta[1:]
            return val, grad

        lo = _bounds(self.lower, p, -np.inf)
        hi = _bounds(self.upper, p, np.inf)
        bounds = [(None, None)] + [(None if np.isinf(a) else a, None if np.isinf(b) else b)
                                   for a, b in zip(lo, hi, strict=True)]
        prior = np.clip(np.log(t.mean() / (1 - t.mean())), -30, 30) if 0 < t.mean() < 1 else 0
        theta0 = np.zeros(p + 1)
        theta0[0] = prior
        theta0[1:] = np.clip(0.0, lo, hi)
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": self.max_iter, "gtol": self.tol})
        self.intercept_ = np.array([res.x[0]])
        self.coef_ = res.x[1:].reshape(1, -1)
        self.n_iter_ = np.array([res.nit])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = True
        return tags

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse="csr")
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _bounds(b, p: int, default: float) -> np.ndarray:
    if b is None:
        return np.full(p, default)
    b = np.asarray(b, dtype=float)
    if b.shape != (p,):
        raise ValueError(f"bounds must have one value per feature ({p}); got shape {b.shape}")
    return b

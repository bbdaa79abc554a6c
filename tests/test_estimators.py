import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from riskmodel.estimators import BoundedLogisticRegression

# L-BFGS-B stops at a gradient tolerance, so weighting and repeating rows agree to ~1e-6,
# not to the 1e-7 relative tolerance of this check.
EXPECTED = {"check_sample_weight_equivalence_on_dense_data":
            "optimiser tolerance; agreement is ~1e-6",
            "check_sample_weight_equivalence_on_sparse_data":
            "optimiser tolerance; agreement is ~1e-6"}


@parametrize_with_checks([BoundedLogisticRegression()],
                         expected_failed_checks=lambda est: EXPECTED)
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_bounds_are_respected():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=500) > 0).astype(int)
    free = BoundedLogisticRegression().fit(X, y)
    assert free.coef_[0, 1] < -0.5
    bounded = BoundedLogisticRegression(lower=[-np.inf, 0.0]).fit(X, y)
    assert bounded.coef_[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert bounded.coef_[0, 0] > 0.5


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="one class"):
        BoundedLogisticRegression().fit(np.ones((5, 1)), np.zeros(5))

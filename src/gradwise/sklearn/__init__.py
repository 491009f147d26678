"""scikit-learn estimators trained by gradwise: drop-ins for ``MLPClassifier`` and ``MLPRegressor``.

``GradwiseClassifier`` and ``GradwiseRegressor`` take scikit-learn's parameters with its defaults and train
the same model the same way (same initial weights for the same random_state, same solvers, same stopping
rule), with gradwise's health monitor watching: what it finds is ``diagnoses_``. They need scikit-learn,
which gradwise itself does not: ``pip install scikit-learn``.
"""

from __future__ import annotations

try:
    import scipy.optimize  # type: ignore[import-untyped]  # noqa: F401 - lbfgs; scikit-learn brings scipy
    import sklearn  # type: ignore[import-untyped]  # noqa: F401
except ImportError as error:  # pragma: no cover - scikit-learn is an optional dependency
    raise ImportError(
        f"gradwise.sklearn needs scikit-learn ({error}); install it with `pip install scikit-learn`"
    ) from None

from gradwise.sklearn.classifier import GradwiseClassifier
from gradwise.sklearn.regressor import GradwiseRegressor

__all__ = ["GradwiseClassifier", "GradwiseRegressor"]

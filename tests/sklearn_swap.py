"""A pytest plugin (``-p sklearn_swap``): scikit-learn's MLP classes are gradwise's before any test is collected.

scikit-learn's ``test_mlp.py`` imports ``MLPClassifier`` and ``MLPRegressor`` from ``sklearn.neural_network``
and builds its ``parametrize`` lists at import, so the swap must happen when pytest configures itself.
"""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    import sklearn.neural_network

    from gradwise.sklearn import GradwiseClassifier, GradwiseRegressor

    sklearn.neural_network.MLPClassifier = GradwiseClassifier
    sklearn.neural_network.MLPRegressor = GradwiseRegressor

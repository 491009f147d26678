"""Two slips in one tensor, or a known slip times a constant: verify names both, at the tensor where they happen,
and never blames a part that is right. What matches no known form is said to, with no part blamed."""

from __future__ import annotations

import pytest

from gradwise.verify import verify
from test_verify_zoo import _case, trace_of

# id | network (sizes activations loss) | bugs injected | options | kinds named, in order | at the first wrong tensor
COMPOSITIONS_TABLE = """
stale-weights-and-dL-da         | 4-5-5-3 tanh/tanh/softmax ce | updated_weights_in_backprop+wrong_upstream_da | | updated_weights_in_backprop,wrong_upstream | delta1
W-not-transposed-and-sigmoid-formula | 4-5-5 tanh/softmax ce   | wrong_upstream+wrong_derivative              | | wrong_derivative,wrong_upstream      | delta0
diagonal-softmax-times-2-over-n | 4-5-3 tanh/softmax mse       | softmax_diagonal+output_times_2_over_n       | | wrong_derivative,constant_scale      | delta1
missing-derivative-negated      | 4-5-3 tanh/sigmoid mse       | missing_output_derivative+sign_delta         | | missing_output_derivative,sign        | delta1
missing-derivative-summed-no-deltas | 4-5-3 tanh/sigmoid mse   | missing_output_derivative+batch_scale        | keep= | missing_output_derivative,batch_scale | dW1
dW-from-z-transposed            | 4-5-3 tanh/softmax ce        | wrong_input_in_weight_gradient+transposed    | keep=z,a,delta | wrong_input_in_weight_gradient,transposed | dW1
stale-weights-sigmoid-formula-no-deltas | 4-5-5-3 relu/tanh/softmax ce | updated_weights_in_backprop+wrong_derivative | keep=after | wrong_derivative,updated_weights_in_backprop | dW1
"""  # noqa: E501 (a table reads best one case a line)

COMPOSITIONS = [_case(line) for line in COMPOSITIONS_TABLE.strip().splitlines()]


@pytest.mark.parametrize(
    ("sizes", "acts", "loss", "bug", "options", "kinds", "first"),
    [c[1:] for c in COMPOSITIONS],
    ids=[c[0] for c in COMPOSITIONS],
)
def test_both_slips_are_named_at_the_tensor(tmp_path, sizes, acts, loss, bug, options, kinds, first):
    report = verify(trace_of(tmp_path, sizes, acts, loss, bug, **options))
    assert report.verdict == "wrong" and report.first_wrong == first, report.text()
    at_first = [f for f in report.findings if f.tensor == first]
    assert [f.kind for f in at_first] == kinds.split(","), report.text()
    assert all(f.evidence.get("with") for f in at_first), report.text()  # each names the other


def test_a_known_slip_times_a_constant_shows_the_constant(tmp_path):
    report = verify(trace_of(tmp_path, [4, 5, 3], ["tanh", "softmax"], "mse", "softmax_diagonal+output_times_2_over_n"))
    assert report.findings[0].evidence["factor"] == pytest.approx(2 / 3, rel=1e-6), report.text()
    assert "the diagonal of the softmax Jacobian only" in report.findings[0].explanation


@pytest.mark.parametrize("batch", [2, 6])
def test_a_tensor_of_no_known_form_blames_no_part(tmp_path, batch):
    """The softmax output's delta reweighted by cos(z): neither the Jacobian nor a − t is blamed, and the layers
    below, which follow from it, get no finding of their own."""
    report = verify(trace_of(tmp_path, [4, 5, 3], ["tanh", "softmax"], "ce", "output_no_known_form", batch=batch))
    assert report.kinds() == ["unexplained"], report.text()
    finding = report.findings[0]
    assert finding.kind == "unexplained" and finding.tensor == "delta1", report.text()
    assert "no part of it can be blamed" in finding.explanation
    assert "nan" not in report.text().lower()


def test_a_delta_of_no_known_form_keeps_the_deltas_convention_below_it(tmp_path):
    """A wrong hidden delta is not taken for a per-sample one: the layers below get no batch_scale of their own."""
    report = verify(trace_of(tmp_path, [6, 8, 8, 3], ["relu", "relu", "softmax"], "ce", "odd_derivative", batch=16))
    assert report.kinds() == ["wrong_derivative", "wrong_derivative"], report.text()
    assert [f.tensor for f in report.findings] == ["delta1", "delta0"]

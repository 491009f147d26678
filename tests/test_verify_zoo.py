"""The bug zoo: a hand-written NumPy step with one bug injected, stored as a trace; verify must name the bug's kind
at the first wrong tensor. And correct steps in every other convention must pass with no finding.

The step is tests/verify_zoo.py, written without gradwise. Each case varies the activations, the loss, the batch
(1 and > 1), the layout (rows, columns, W out × in) and the file format (txt, csv, tsv, npy, npz).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradwise.verify import KINDS, verify
from verify_zoo import problem, user_step, write_trace

OPTIONAL = {"z", "a", "delta", "loss", "after"}
GRADIENTS_ONLY: set[str] = set()


def trace_of(
    tmp_path,
    sizes,
    acts,
    loss,
    bug="",
    *,
    batch=4,
    keep=OPTIONAL,
    fmt="txt",
    samples="rows",
    weights="in_out",
    reduction="mean",
    per_sample=False,
    dtype=np.float64,
    scale=1.0,
    seed=0,
    lr=0.1,
    optimizer="",
):
    """Write the step's trace with only the optional tensors in ``keep`` -> the folder."""
    x, t, W, b = problem(sizes, acts, loss, batch, seed, scale, dtype)
    with np.errstate(all="ignore"):
        tensors = user_step(
            sizes, acts, loss, x, t, W, b, bug=bug, reduction=reduction, lr=lr, per_sample_deltas=per_sample
        )
    include = {n for n in tensors if _family(n) in keep}
    network = {"sizes": sizes, "activations": acts, "loss": loss, "reduction": reduction, "lr": lr}
    network |= {"optimizer": optimizer} if optimizer else {}
    return write_trace(tmp_path / "trace", network, tensors, fmt=fmt, include=include, samples=samples, weights=weights)


def _family(name: str) -> str:
    return "after" if name.endswith(".after") else name.rstrip("0123456789")


# id | network (sizes activations loss) | bug injected | options | kind named | at the first wrong tensor
ZOO_TABLE = """
no-bias                       | 4-4-3 tanh/softmax ce        | no_bias                        |                                | forward_mismatch               | z0
forward-W-transposed          | 4-4-3 relu/softmax ce        | transposed_forward             | fmt=csv                        | forward_mismatch               | z0
wrong-activation              | 4-5-3 tanh/softmax ce        | wrong_activation               | fmt=npy                        | forward_mismatch               | a0
softmax-over-batch            | 4-5-3 tanh/softmax ce        | softmax_axis                   | samples=columns                | forward_mismatch               | a1
softmax-over-all              | 4-5-3 tanh/softmax ce        | softmax_all                    | fmt=npy                        | forward_mismatch               | a1
relu-mask-in-place            | 4-5-3 relu/softmax ce        | cache_overwritten              | fmt=npz                        | forward_mismatch               | a0
relu-mask-in-place-no-a       | 4-5-3 relu/softmax ce        | cache_overwritten              | keep=loss                      | forward_mismatch               | dW1
softmax-exp-overflow          | 4-5-3 relu/softmax ce        | softmax_overflow               | scale=3000                     | non_finite                     | a1
log-of-zero                   | 4-5-3 tanh/softmax ce        |                                | scale=2000 fmt=npy             | non_finite                     | loss
log-of-one-in-float32         | 4-5-3 tanh/sigmoid bce       |                                | scale=40 float32 keep=loss     | non_finite                     | loss
seed-softmax-mse              | 4-5-3 sigmoid/softmax mse    | missing_output_derivative      | per_sample                     | missing_output_derivative      | delta1
sigmoid-mse-no-deltas         | 4-5-3 tanh/sigmoid mse       | missing_output_derivative      | keep=z,a,loss,after batch=1    | missing_output_derivative      | dW1
softmax-ce-jacobian-again     | 4-5-3 tanh/softmax ce        | extra_output_derivative        | fmt=tsv                        | extra_output_derivative        | delta1
sigmoid-bce-derivative-again  | 4-5-3 relu/sigmoid bce       | extra_output_derivative        | keep=                          | extra_output_derivative        | dW1
sigmoid-bce-prime-of-output   | 4-5-3 relu/sigmoid bce       | derivative_at_output           | fmt=dat                        | derivative_at_output           | delta1
tanh-prime-of-tanh            | 4-5-3 tanh/tanh mse          | derivative_at_output           | samples=columns weights=out_in | derivative_at_output           | delta1
softmax-ce-diagonal-jacobian  | 4-5-3 tanh/softmax ce        | softmax_diagonal               | batch=1                        | wrong_derivative               | delta1
softmax-mse-diagonal-jacobian | 4-5-3 tanh/softmax mse       | softmax_diagonal               | keep=                          | wrong_derivative               | dW1
sigmoid-formula-on-tanh       | 4-5-3 tanh/softmax ce        | wrong_derivative               | batch=1                        | wrong_derivative               | delta0
next-layer-derivative         | 4-5-5-3 tanh/sigmoid/softmax ce | next_layer_derivative        |                                | wrong_derivative               | delta0
tanh-formula-fed-z            | 4-6-3 tanh/softmax ce        | formula_of_a_at_z              | batch=3                        | wrong_derivative               | delta0
derivative-of-no-known-form   | 4-6-3 tanh/softmax ce        | odd_derivative                 | batch=6                        | wrong_derivative               | delta0
derivative-no-form-no-deltas  | 4-6-3 tanh/softmax ce        | odd_derivative                 | keep=                          | wrong_derivative               | dW0
W-not-transposed-square       | 4-5-5-3 tanh/tanh/softmax ce | wrong_upstream                 |                                | wrong_upstream                 | delta0
dL-da-propagated              | 4-5-3 tanh/sigmoid mse       | wrong_upstream_da              | fmt=npz                        | wrong_upstream                 | delta0
stale-weights                 | 4-5-5-3 relu/tanh/softmax ce | updated_weights_in_backprop    |                                | updated_weights_in_backprop    | delta1
stale-weights-no-deltas       | 4-5-5-3 relu/tanh/softmax ce | updated_weights_in_backprop    | keep=                          | updated_weights_in_backprop    | dW1
dW-from-z                     | 4-5-3 tanh/softmax ce        | wrong_input_in_weight_gradient | fmt=csv                        | wrong_input_in_weight_gradient | dW1
dW-transposed                 | 4-5-3 tanh/softmax ce        | transposed                     | keep=z,a,delta                 | transposed                     | dW1
dW-transposed-square          | 4-5-5 tanh/softmax ce        | transposed                     | keep=z,a,delta                 | transposed                     | dW1
gradient-sign                 | 4-5-3 relu/softmax ce        | sign                           | keep=                          | sign                           | dW1
delta-sign                    | 4-5-3 relu/softmax ce        | sign_delta                     |                                | sign                           | delta1
summed-not-mean               | 4-5-3 relu/softmax ce        | batch_scale                    | fmt=npy                        | batch_scale                    | dW1
bias-summed-weights-mean      | 4-5-3 relu/softmax ce        | batch_scale_bias               | samples=columns                | batch_scale                    | db1
bias-one-sample               | 4-5-3 relu/softmax ce        | bias_one_sample                |                                | bias_reduction                 | db1
bias-sum-without-axis         | 4-5-3 relu/softmax ce        | bias_no_axis                   | fmt=npy                        | bias_reduction                 | db1
bias-wrong-axis-columns       | 4-5-3 relu/softmax ce        | bias_wrong_axis                | samples=columns weights=out_in | bias_reduction                 | db1
bias-mean-weights-summed      | 4-5-3 relu/softmax ce        | bias_mean                      | reduction=sum                  | bias_reduction                 | db1
broadcast-B-by-B              | 4-1 sigmoid bce              | shape                          | keep=delta                     | shape                          | delta0
update-uphill                 | 4-5-3 relu/softmax ce        | update_sign                    | keep=after                     | update                         | W0.after
update-not-applied            | 4-5-3 relu/softmax ce        | update_none                    | keep=after fmt=npz             | update                         | W0.after
update-twice                  | 4-5-3 relu/softmax ce        | update_twice                   | keep=after                     | update                         | W0.after
update-rate                   | 4-5-3 relu/softmax ce        | update_rate                    | keep=after optimizer=sgd       | update                         | W0.after
output-of-no-known-form       | 4-5-3 tanh/softmax ce        | output_no_known_form           | batch=6                        | unexplained                    | delta1
"""  # noqa: E501 (a table reads best one case a line)


def _options(text: str) -> dict[str, object]:
    """ "fmt=csv keep=z,a per_sample" -> {"fmt": "csv", "keep": {"z", "a"}, "per_sample": True}."""
    options: dict[str, object] = {}
    for word in text.split():
        key, _, value = word.partition("=")
        if key == "keep":
            options[key] = set(filter(None, value.split(",")))
        elif key in ("batch",):
            options[key] = int(value)
        elif key == "scale":
            options[key] = float(value)
        elif key == "float32":
            options["dtype"] = np.float32
        else:
            options[key] = value or True
    return options


def _case(line: str) -> tuple[str, list[int], list[str], str, str, dict[str, object], str, str]:
    name, network, bug, options, kind, first = (field.strip() for field in line.split("|"))
    sizes, acts, loss = network.split()
    return name, [int(n) for n in sizes.split("-")], acts.split("/"), loss, bug, _options(options), kind, first


ZOO = [_case(line) for line in ZOO_TABLE.strip().splitlines()]


@pytest.mark.parametrize(
    ("sizes", "acts", "loss", "bug", "options", "kind", "first"), [c[1:] for c in ZOO], ids=[c[0] for c in ZOO]
)
def test_each_bug_is_named_at_the_first_wrong_tensor(tmp_path, sizes, acts, loss, bug, options, kind, first):
    report = verify(trace_of(tmp_path, sizes, acts, loss, bug, **options))
    assert report.verdict == "wrong" and report.first_wrong == first, report.text()
    finding = report.findings[0]
    assert finding.kind == kind and finding.tensor == first, report.text()
    assert finding.explanation and finding.fix and ("error" in finding.evidence or kind == "non_finite")


def test_the_zoo_covers_every_kind_but_the_note():
    named = {case[6] for case in ZOO}
    assert named | {"constant_scale"} == set(KINDS)


def test_later_tensors_are_downstream_of_the_first(tmp_path):
    report = verify(trace_of(tmp_path, [4, 5, 3], ["sigmoid", "softmax"], "mse", "missing_output_derivative"))
    status = {t.name: t.status for t in report.tensors}
    assert status["delta1"] == "wrong" and status["dW1"] == status["db1"] == status["delta0"] == "downstream"
    assert [f.kind for f in report.findings] == ["missing_output_derivative"]


def test_missing_output_derivative_says_which_loss_it_would_be_right_for(tmp_path):
    report = verify(trace_of(tmp_path, [4, 5, 3], ["tanh", "softmax"], "mse", "missing_output_derivative"))
    finding = report.findings[0]
    assert "exact delta of softmax with cross-entropy" in finding.explanation
    assert finding.fix.startswith("multiply the output delta by the softmax Jacobian, or train with cross-entropy")
    assert finding.evidence["error"] > 0.01 and finding.evidence["error_under_hypothesis"] < 1e-9


def test_an_update_at_another_rate_shows_the_rate(tmp_path):
    report = verify(
        trace_of(tmp_path, [4, 5, 3], ["relu", "softmax"], "ce", "update_rate", keep={"after"}, optimizer="sgd")
    )
    assert report.findings[0].explanation == "W0.after was updated with rate 0.037, not lr = 0.1."


def test_a_derivative_of_no_known_form_shows_the_ratio(tmp_path):
    report = verify(trace_of(tmp_path, [4, 6, 3], ["tanh", "softmax"], "ce", "odd_derivative", batch=6))
    assert "times the right one" in report.findings[0].explanation


def test_a_constant_factor_is_a_note_and_the_verdict_stays_correct(tmp_path):
    report = verify(trace_of(tmp_path, [4, 5, 3], ["sigmoid", "sigmoid"], "mse", "constant_scale"))
    assert report.verdict == "correct" and report.first_wrong is None, report.text()
    assert {f.kind for f in report.findings} == {"constant_scale"}
    assert report.findings[0].evidence["factor"] == 2.0


def test_an_exp_overflow_is_traced_to_the_softmax(tmp_path):
    report = verify(trace_of(tmp_path, [4, 5, 3], ["relu", "softmax"], "ce", "softmax_overflow", scale=3000.0))
    assert "overflows in exp" in report.findings[0].explanation and "row max" in report.findings[0].explanation


CONVENTIONS = [
    ("float32", {"dtype": np.float32}),
    ("summed", {"reduction": "sum"}),
    ("deltas-per-sample", {"per_sample": True}),
    ("columns-W-out-by-in", {"samples": "columns", "weights": "out_in"}),
    ("columns", {"samples": "columns", "fmt": "csv"}),
    ("W-out-by-in", {"weights": "out_in", "fmt": "npz"}),
    ("batch-1", {"batch": 1, "fmt": "npy"}),
    (
        "float32-summed-per-sample-columns",
        {
            "dtype": np.float32,
            "reduction": "sum",
            "per_sample": True,
            "samples": "columns",
            "weights": "out_in",
            "fmt": "tsv",
        },
    ),
    ("gradients-only", {"keep": GRADIENTS_ONLY}),
]
NETWORKS = [
    ([4, 5, 3], ["sigmoid", "softmax"], "ce"),
    ([4, 6, 5, 3], ["relu", "sigmoid", "sigmoid"], "bce"),
    ([4, 5, 3], ["tanh", "sigmoid"], "bce"),
    ([4, 5, 3], ["relu", "identity"], "mse"),
    ([4, 4, 4, 3], ["sigmoid", "tanh", "softmax"], "mse"),
]


@pytest.mark.parametrize("network", NETWORKS, ids=["-".join(n[1]) + "-" + n[2] for n in NETWORKS])
@pytest.mark.parametrize(("options"), [c[1] for c in CONVENTIONS], ids=[c[0] for c in CONVENTIONS])
def test_correct_steps_in_every_convention_pass_with_no_finding(tmp_path, network, options):
    sizes, acts, loss = network
    report = verify(trace_of(tmp_path, sizes, acts, loss, "derivatives_from_a", **options))  # σ′ as a(1 − a), ...
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert {t.status for t in report.tensors} == {"ok"}, report.text()


def test_the_conventions_are_named_as_notes(tmp_path):
    """Square layers and no "weights" in network.json: the tensors decide the orientation (in × out here)."""
    folder = trace_of(tmp_path, [5, 5, 5], ["relu", "softmax"], "ce", per_sample=True, samples="columns")
    (folder / "network.json").write_text((folder / "network.json").read_text().replace(', "weights": "in_out"', ""))
    report = verify(folder)
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert "the deltas are per sample (not divided by B); both conventions are accepted" in report.notes
    square = "every layer is square, so the shapes cannot tell how W is stored: read as in × out, which fits"
    assert square in report.notes


def test_a_log_loss_with_clipped_probabilities_passes(tmp_path):
    """Saturated sigmoid outputs (weights x 30): the exact bce and one clipped at 1e-7 differ; both are right."""
    sizes, acts = [4, 5, 3], ["tanh", "sigmoid"]
    x, t, W, b = problem(sizes, acts, "bce", 4, 0, 30.0)
    tensors = user_step(sizes, acts, "bce", x, t, W, b)
    y = np.clip(tensors["a1"], 1e-7, 1 - 1e-7)
    tensors["loss"] = np.array(-(t * np.log(y) + (1 - t) * np.log(1 - y)).sum() / 4)
    network = {"sizes": sizes, "activations": acts, "loss": "bce", "reduction": "mean", "lr": 0.1}
    report = verify(write_trace(tmp_path / "trace", network, tensors))
    assert report.verdict == "correct" and report.findings == (), report.text()
    assert "the loss clips probabilities to [1e-07, 1 − 1e-07] before the log" in report.notes


def test_a_derivative_formula_fed_z_instead_of_a_is_named(tmp_path):
    report = verify(trace_of(tmp_path, [4, 6, 3], ["tanh", "softmax"], "ce", "formula_of_a_at_z", batch=3))
    assert report.findings[0].explanation.startswith("delta0 multiplies by 1 − a² with z0 in place of a0")
    assert report.findings[0].evidence["error_under_hypothesis"] < 1e-9


def test_another_layers_derivative_is_named(tmp_path):
    sizes, acts = [4, 5, 5, 3], ["tanh", "sigmoid", "softmax"]
    report = verify(trace_of(tmp_path, sizes, acts, "ce", "next_layer_derivative"))
    assert report.findings[0].explanation == "delta0 multiplies by layer 1's derivative sigmoid′(z1), not by tanh′(z0)."

"""``verify`` on networks with BatchNorm or LayerNorm between the layers: a correct step, in float64 or float32, with
the norm before or after the activation, any batch size from 2, mean or sum, verifies clean; each classic slip of a
hand-written norm is named at the first tensor it makes wrong. The steps are written here with NumPy, as someone
writing their own norm layer would, independently of gradwise; the reference itself is checked against PyTorch."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from gradwise.verify import TraceError, verify
from gradwise.verify import reference as R
from verify_zoo import DERIVATIVE, FORWARD, softmax, write_trace

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
SIZES, ACTS = [5, 6, 4, 3], ["tanh", "relu", "softmax"]  # two normalized hidden layers, softmax with ce
PARAMETERS = {"gamma0", "beta0", "gamma1", "beta1"}


def user_norm(kind, v, gamma, beta, eps, bug=""):
    """A hand-written norm's forward -> (xhat, std, y); ``bug`` "unbiased" or "eps_outside"."""
    axis = 0 if kind == "batch" else 1
    mu = v.mean(axis=axis, keepdims=True)
    var = v.var(axis=axis, keepdims=True, ddof=1 if bug == "unbiased" else 0)
    std = np.sqrt(var) + eps if bug == "eps_outside" else np.sqrt(var + eps)
    xhat = (v - mu) / std
    return xhat, std, gamma * xhat + beta


def user_norm_backward(kind, dy, xhat, std, gamma, bug=""):
    """cs231n's compact form, dx = (N dxhat − Σ dxhat − xhat Σ dxhat xhat) / (N std); ``bug`` "dx_no_mean" treats
    the mean and variance as constants."""
    axis = 0 if kind == "batch" else 1
    n = dy.shape[axis]
    dxhat = dy * gamma
    if bug == "dx_no_mean":
        return dxhat / std
    terms = dxhat.sum(axis=axis, keepdims=True) + xhat * (dxhat * xhat).sum(axis=axis, keepdims=True)
    return (n * dxhat - terms) / (n * std)


def problem(batch, seed=0, dtype=np.float64, sizes=SIZES):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0]))
    t = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    W = [rng.normal(scale=1 / np.sqrt(n), size=(n, m)) for n, m in itertools.pairwise(sizes)]
    b = [rng.normal(scale=0.3, size=m) for m in sizes[1:]]
    gamma = [rng.uniform(0.5, 1.5, m) for m in sizes[1:-1]]
    beta = [rng.normal(scale=0.2, size=m) for m in sizes[1:-1]]
    cast = lambda v: np.asarray(v, dtype)  # noqa: E731
    W, b, gamma, beta = ([cast(v) for v in group] for group in (W, b, gamma, beta))
    return cast(x), cast(t), W, b, gamma, beta


def user_step(
    kind, at, batch, *, dtype=np.float64, reduction="mean", bug="", eps=1e-5, seed=0, acts=ACTS, small=1.0,
    zero_gamma=(), unit_affine=False,
):  # fmt: skip
    """One step of a hand-written MLP with a norm on every hidden layer, before (at "pre") or after ("post") the
    activation -> {trace name: tensor}. ``small`` scales W0 and b0: the first layer's units vary that much less;
    the norms of the layers in ``zero_gamma`` start with gamma = 0; ``unit_affine``: every gamma 1, every beta 0."""
    x, t, W, b, gamma, beta = problem(batch, seed, dtype)
    W[0], b[0] = (small * W[0]).astype(dtype), (small * b[0]).astype(dtype)
    gamma = [np.zeros_like(g) if j in zero_gamma else g for j, g in enumerate(gamma)]
    if unit_affine:
        gamma, beta = [np.ones_like(g) for g in gamma], [np.zeros_like(v) for v in beta]
    eps = dtype(eps)
    L = len(W)
    out, cache = {"x": x, "t": t}, []
    h = x
    for i in range(L):
        z = h @ W[i] + b[i]
        if i == L - 1:
            a = softmax(z)
            out[f"z{i}"], out[f"a{i}"] = z, a
            break
        if at == "pre":
            xhat, std, y = user_norm(kind, z, gamma[i], beta[i], eps, bug)
            a = FORWARD[acts[i]](y)
            h = a
        else:
            a = FORWARD[acts[i]](z)
            xhat, std, y = user_norm(kind, a, gamma[i], beta[i], eps, bug)
            h = y
        cache.append((h, z, a, xhat, std, y))
        out.update({f"z{i}": z, f"a{i}": a, f"xhat{i}": xhat, f"y{i}": y})
    s = dtype(1 / batch) if reduction == "mean" else dtype(1)
    delta = s * (out[f"a{L - 1}"] - t)
    inputs = [x] + [c[0] for c in cache]
    for i in range(L - 1, -1, -1):
        out[f"delta{i}"], out[f"dW{i}"], out[f"db{i}"] = delta, inputs[i].T @ delta, delta.sum(axis=0)
        out[f"W{i}"], out[f"b{i}"] = W[i], b[i]
        if i == 0:
            break
        j = i - 1
        _, z, a, xhat, std, y = cache[j]
        incoming = delta @ W[i].T
        dy = incoming * DERIVATIVE[acts[j]](y) if at == "pre" else incoming
        dgamma = (dy * (y if bug == "dgamma" else xhat)).sum(axis=0)
        dbeta = dy.mean(axis=0) if bug == "dbeta" else dy.sum(axis=0)
        dv = user_norm_backward(kind, dy, xhat, std, gamma[j], bug)
        delta = dv if at == "pre" else dv * DERIVATIVE[acts[j]](z)
        out.update({f"gamma{j}": gamma[j], f"beta{j}": beta[j], f"dgamma{j}": dgamma, f"dbeta{j}": dbeta})
    return out


def network(kind, at, reduction="mean", **extra):
    return {"sizes": SIZES, "activations": ACTS, "loss": "ce", "reduction": reduction, "norm": kind, "norm_at": at,
            **extra}  # fmt: skip


def run(tmp_path, net, tensors, *, fmt="npy", include=None):
    return verify(write_trace(tmp_path / "trace", net, tensors, fmt=fmt, include=include))


def assert_clean(report):
    assert report.verdict == "correct", report.text()
    assert all(f.is_note for f in report.findings), report.text()
    assert {c.status for c in report.tensors} <= {"ok", "note"}, report.text()


# --- the reference: PyTorch's BatchNorm and LayerNorm ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("batch", [2, 3, 16])
def test_the_reference_norm_is_pytorchs(kind, batch):
    rng = np.random.default_rng(batch)
    v, dy = rng.normal(1.0, 2.0, (batch, 5)), rng.normal(size=(batch, 5))
    gamma, beta = rng.uniform(0.5, 1.5, 5), rng.normal(size=5)
    xhat, std = R.normalize(kind, v, 1e-5)
    y = R.scale_shift(xhat, gamma, beta)
    dv = R.norm_backward(kind, dy, xhat, std, gamma)
    tv, tg, tb = (torch.tensor(a, requires_grad=True) for a in (v, gamma, beta))
    if kind == "batch":
        ty = torch.nn.functional.batch_norm(tv, None, None, tg, tb, training=True, eps=1e-5)
    else:
        ty = torch.nn.functional.layer_norm(tv, (5,), tg, tb, eps=1e-5)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dv, tv.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(R.gamma_gradient(dy, xhat), tg.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(R.bias_gradient(dy), tb.grad.numpy(), rtol=1e-10)


# --- correct steps verify clean ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batch", [2, 3, 8, 32])
@pytest.mark.parametrize("at", ["pre", "post"])
@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_a_correct_step_with_norms_is_correct(tmp_path, kind, at, batch, dtype):
    tensors = user_step(kind, at, batch, dtype=dtype)
    report = run(tmp_path, network(kind, at), tensors)
    assert_clean(report)
    names = {c.name for c in report.tensors}
    assert {"xhat0", "y0", "dgamma0", "dbeta0", "dgamma1", "dbeta1"} <= names, report.text()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(("kind", "at"), [("batch", "pre"), ("layer", "post")])
def test_mean_and_sum_verify_clean_without_the_forward_tensors(tmp_path, kind, at, reduction):
    tensors = user_step(kind, at, 6, reduction=reduction)
    keep = {"delta0", "delta1", "delta2", "dgamma0", "dbeta0", "dgamma1", "dbeta1"} | PARAMETERS
    report = run(tmp_path, network(kind, at, reduction), tensors, fmt="txt", include=keep)
    assert_clean(report)
    assert report.conventions["reduction"] == reduction


# --- each planted slip is named at the first tensor it makes wrong --------------------------------------------------

# bug | eps, the first layer's scale (eps matters only where the variance is small) | first wrong | its kind
SLIPS = [
    ("dx_no_mean", 1e-5, 1.0, "delta1", "wrong_derivative"),
    ("dgamma", 1e-5, 1.0, "dgamma1", "wrong_input_in_weight_gradient"),
    ("dbeta", 1e-5, 1.0, "dbeta1", "batch_scale"),
    ("unbiased", 1e-5, 1.0, "xhat0", "forward_mismatch"),
    ("eps_outside", 1e-3, 0.03, "xhat0", "forward_mismatch"),
]
EXPLAINED = {
    "dx_no_mean": "mean and variance as constants",
    "dgamma": "built from y1, the norm's output, not from xhat1",
    "dbeta": "1/B times the gradient",
    "unbiased": "divides by the unbiased variance",
    "eps_outside": "eps outside the square root",
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("at", ["pre", "post"])
@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize(("bug", "eps", "small", "first", "kind_named"), SLIPS, ids=[s[0] for s in SLIPS])
def test_a_planted_slip_is_named_first(tmp_path, bug, eps, small, first, kind_named, kind, at, dtype):
    tensors = user_step(kind, at, 8, dtype=dtype, bug=bug, eps=eps, small=small)
    clean = user_step(kind, at, 8, dtype=dtype, eps=eps, small=small)
    assert not np.allclose(tensors[first], clean[first], rtol=1e-2), "the slip must change the tensor it is named at"
    report = run(tmp_path, network(kind, at, eps=eps), tensors)
    assert report.verdict == "wrong" and report.first_wrong == first, report.text()
    finding = report.findings[0]
    assert (finding.kind, finding.tensor) == (kind_named, first), report.text()
    assert EXPLAINED[bug] in finding.explanation, report.text()
    assert not [f for f in report.findings if f.kind == "unexplained"], report.text()


@pytest.mark.parametrize(("bug", "first", "kind_named"), [
    ("dx_no_mean", "dW1", "wrong_derivative"),
    ("dgamma", "dgamma1", "wrong_input_in_weight_gradient"),
    ("unbiased", "a0", "forward_mismatch"),
])  # fmt: skip
def test_a_slip_is_named_at_the_next_tensor_on_file(tmp_path, bug, first, kind_named):
    """Without deltas, a slip in the norm's backward shows in dW; without xhat and y, one in its forward in a."""
    tensors = user_step("batch", "pre", 8, bug=bug)
    keep = {"a0", "a1", "a2", "dgamma0", "dbeta0", "dgamma1", "dbeta1"} | PARAMETERS
    report = run(tmp_path, network("batch", "pre"), tensors, include=keep)
    assert report.first_wrong == first and report.findings[0].kind == kind_named, report.text()
    assert not [f for f in report.findings if f.kind == "unexplained"], report.text()


# --- what network.json leaves open is read off the tensors ---------------------------------------------------------


@pytest.mark.parametrize(("kind", "at"), [("batch", "pre"), ("batch", "post"), ("layer", "pre"), ("layer", "post")])
def test_an_undeclared_norm_is_read_off_the_tensors(tmp_path, kind, at):
    net = {k: v for k, v in network(kind, at).items() if k not in ("norm", "norm_at")}
    report = run(tmp_path, net, user_step(kind, at, 6))
    assert_clean(report)
    assert report.conventions["norm"] == {"layers": [kind, kind, None], "at": at, "eps": 1e-5}, report.text()
    said = f'"norm": ["{kind}", "{kind}", null], "norm_at": "{at}"'
    assert any(said in note for note in report.notes), report.notes


def test_an_undeclared_norm_with_a_slip_is_still_read_right(tmp_path):
    net = {k: v for k, v in network("layer", "post").items() if k not in ("norm", "norm_at")}
    report = run(tmp_path, net, user_step("layer", "post", 6, bug="dgamma"))
    assert report.first_wrong == "dgamma1" and report.kinds()[0] == "wrong_input_in_weight_gradient", report.text()
    assert report.conventions["norm"] == {"layers": ["layer", "layer", None], "at": "post", "eps": 1e-5}


def test_an_undeclared_eps_is_read_off_the_tensors(tmp_path):
    """Keras's eps, 1e-3, where the first layer's variance is small enough for it to matter."""
    tensors = user_step("batch", "pre", 8, eps=1e-3, small=0.03)
    wrong = run(tmp_path / "declared", network("batch", "pre", eps=1e-5), tensors)
    assert wrong.first_wrong == "xhat0", wrong.text()  # eps matters here: 1e-5 does not fit
    report = run(tmp_path, network("batch", "pre"), tensors)
    assert_clean(report)
    assert report.conventions["norm"]["eps"] == 1e-3
    assert "the norm's eps is not declared: read as 0.001, which fits (say \"eps\" in network.json)" in report.notes


def test_an_undeclared_eps_is_read_beside_a_slip(tmp_path):
    """Keras's eps and a slip in dgamma: the forward tensors fit 1e-3, so the slip is named where it is made."""
    tensors = user_step("batch", "pre", 8, eps=1e-3, small=0.03, bug="dgamma")
    report = run(tmp_path, network("batch", "pre"), tensors)
    assert report.first_wrong == "dgamma1", report.text()
    assert set(report.kinds()) == {"wrong_input_in_weight_gradient"}, report.text()  # in dgamma1 and dgamma0
    assert report.conventions["norm"]["eps"] == 1e-3


def test_deltas_per_sample_through_a_norm(tmp_path):
    tensors = user_step("layer", "pre", 6)
    tensors = {k: (6 * v if k.startswith("delta") else v) for k, v in tensors.items()}  # not divided by B
    report = run(tmp_path, network("layer", "pre"), tensors)
    assert_clean(report)
    assert report.conventions["deltas"] == "per sample"


def test_a_zero_gamma_hides_the_norm_and_says_what_to_declare(tmp_path):
    """gamma = 0 (as the last norm of a residual block is often initialized) makes y = beta whatever the norm: with
    no xhat on file, BatchNorm and LayerNorm fit alike. The step is right under either, and a note says what to
    declare rather than claiming to know."""
    step = user_step("batch", "pre", 6, zero_gamma=(0, 1))
    net = {k: v for k, v in network("batch", "pre").items() if k != "norm"}
    keep = {"dbeta0", "dbeta1", "delta2", "delta1", "delta0"} | PARAMETERS
    report = run(tmp_path, net, step, include=keep)
    assert_clean(report)
    alike = (
        "the tensors fit BatchNorm before the activation and LayerNorm before the activation alike: read as "
        'BatchNorm before the activation; say which in network.json ("norm", "norm_at")'
    )
    assert alike in report.notes, report.notes
    declared = run(tmp_path / "declared", net | {"norm": "layer"}, step, include=keep)
    assert_clean(declared)
    assert alike not in declared.notes and declared.conventions["norm"]["layers"] == ["layer", "layer", None]


# --- the trace's names and layouts -------------------------------------------------------------------------------


def _counted_from_1(name):
    """W0 -> W1, gamma0 -> Gamma_1, dgamma0 -> dGamma1, dbeta0 -> d_beta1, xhat0 -> x_hat1, y0 -> bn1."""
    family, number = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")) :]) + 1
    style = {"gamma": "Gamma_", "dgamma": "dGamma", "dbeta": "d_beta", "xhat": "x_hat", "y": "bn"}
    return f"{style.get(family, family)}{number}"


def test_norm_tensors_follow_the_trace_names(tmp_path):
    """Counted from 1, in any case, with an underscore: numbered as the layers' W and z are."""
    tensors = user_step("layer", "pre", 5)
    renamed = {(k if k in ("x", "t") else _counted_from_1(k)): v for k, v in tensors.items()}
    folder = tmp_path / "trace"
    folder.mkdir()
    (folder / "network.json").write_text(json.dumps(network("layer", "pre")))
    np.savez(folder / "trace.npz", **renamed)
    report = verify(folder)
    assert_clean(report)
    assert {"xhat0", "y1", "dgamma0", "dbeta1"} <= {c.name for c in report.tensors}, report.text()
    assert any("numbered from 1" in note and "gamma" in note for note in report.notes), report.notes


def test_samples_as_columns_and_weights_out_by_in(tmp_path):
    tensors = user_step("batch", "post", 7)
    tensors = {k: (v.T if k.startswith(("xhat", "y")) else v) for k, v in tensors.items()}  # units × batch
    report = verify(write_trace(tmp_path / "trace", network("batch", "post"), tensors, samples="columns",
                                weights="out_in"))  # fmt: skip
    assert_clean(report)


def test_error_t_minus_y_negates_dgamma_and_dbeta_too(tmp_path):
    tensors = user_step("batch", "pre", 6)
    negated = {k: (-v if k.startswith(("delta", "dW", "db", "dgamma", "dbeta")) else v) for k, v in tensors.items()}
    for i in range(3):
        negated[f"W{i}.after"] = tensors[f"W{i}"] + 0.1 * negated[f"dW{i}"]
    report = run(tmp_path, network("batch", "pre", update="add", lr=0.1), negated)
    assert_clean(report)
    assert report.conventions["gradients"] == "-dL/dW"


def test_a_norm_without_gamma_and_beta_learns_none(tmp_path):
    """Declared, with no gamma or beta on file: gamma = 1 and beta = 0, said in a note."""
    tensors = user_step("layer", "post", 6, unit_affine=True)
    plain = {k: v for k, v in tensors.items() if not k.startswith(("gamma", "beta", "dgamma", "dbeta"))}
    report = run(tmp_path, network("layer", "post"), plain)
    assert_clean(report)
    assert "layer 0's norm comes without gamma0 and beta0: read as gamma = 1, beta = 0" in report.notes
    with_scale = {k: v for k, v in user_step("layer", "post", 6).items() if k in plain}  # gamma ≠ 1 on file is wrong
    assert run(tmp_path / "scaled", network("layer", "post"), with_scale).verdict == "wrong"


def test_gamma_and_beta_without_their_gradients_are_not_trained(tmp_path):
    tensors = {k: v for k, v in user_step("batch", "pre", 6).items() if not k.startswith(("dgamma", "dbeta"))}
    report = run(tmp_path, network("batch", "pre"), tensors)
    assert_clean(report)
    assert "gamma0 comes without dgamma0: read as not trained this step" in report.notes


# --- every bad input is one line -----------------------------------------------------------------------------------


def _bad(tmp_path, net, tensors):
    folder = write_trace(tmp_path / "trace", net, tensors, fmt="npy")
    with pytest.raises(TraceError) as raised:
        verify(folder)
    message = str(raised.value)
    assert "\n" not in message
    return message.replace(str(folder), "{trace}")


@pytest.mark.parametrize(("change", "message"), [
    ({"norm": "group"}, '{trace}/network.json: norm must be "batch" or "layer" (or a list of those and null), got '
                        "'group'"),
    ({"norm": ["batch"]}, "{trace}/network.json: norm must be one name or a list of 3 (one per weight layer, null for "
                          "none)"),
    ({"norm": ["batch", "layer", "batch"]}, "{trace}/network.json: norm on the output layer (2) is not read; normalize "
                                            "hidden layers only (null last)"),
    ({"norm": ["batch", None, None]}, "{trace}: network.json says layer 1 has no norm, but gamma1 or beta1 is given; "
                                      "declare its norm in the list, or remove them"),
    ({"norm_at": "middle"}, "{trace}/network.json: norm_at must be 'pre' or 'post', got 'middle'"),
    ({"eps": -1e-5}, "{trace}/network.json: eps must be 0 or more, got -1e-05"),
])  # fmt: skip
def test_a_bad_norm_declaration_is_one_line(tmp_path, change, message):
    assert _bad(tmp_path, network("batch", "pre") | change, user_step("batch", "pre", 4)) == message


@pytest.mark.parametrize(("drop", "add", "message"), [
    ("beta1", {}, "{trace}: gamma1 is given without beta1; write both (gamma = 1 and beta = 0 for a norm that does "
                  "not learn them), or neither"),
    ("gamma0", {}, "{trace}: beta0 is given without gamma0; write both (gamma = 1 and beta = 0 for a norm that does "
                   "not learn them), or neither"),
])  # fmt: skip
def test_misplaced_norm_tensors_are_one_line(tmp_path, drop, add, message):
    tensors = {k: v for k, v in user_step("batch", "pre", 4).items() if k != drop} | add
    net = {k: v for k, v in network("batch", "pre").items() if k != "norm"}
    assert _bad(tmp_path, net, tensors) == message


@pytest.mark.parametrize("extra", [
    {"beta1": np.array(0.9), "beta2": np.array(0.999)},  # Adam's, as scalars
    {"gamma2": np.ones(3), "beta2": np.zeros(3)},  # on the output layer: no norm is read there
])  # fmt: skip
def test_gamma_and_beta_that_are_no_norm_parameters_are_ignored(tmp_path, extra):
    tensors = user_step("batch", "pre", 4, unit_affine=True)
    norms = ("gamma", "beta", "dgamma", "dbeta", "xhat", "y")
    plain = {k: v for k, v in tensors.items() if not k.startswith(norms)} | extra
    net = {k: v for k, v in network("batch", "pre").items() if k not in ("norm", "norm_at")}
    report = run(tmp_path, net, plain)
    assert report.verdict == "wrong" and "norm" not in report.conventions  # the step has norms nobody declared
    ignored = f"ignored tensors with names the verifier does not know: {', '.join(sorted(extra))}"
    assert ignored in report.notes, report.notes
    declared = net | {"norm": ["batch", "batch", None]}  # no norm on the output layer: gamma2 and beta2 are ignored
    if "gamma2" in extra:
        assert_clean(run(tmp_path / "declared", declared, plain))


def test_xhat_alone_says_there_is_a_norm(tmp_path):
    """No gamma or beta (a norm that learns none), nothing declared: xhat on file is enough to read the norm."""
    tensors = user_step("layer", "post", 5, unit_affine=True)
    plain = {k: v for k, v in tensors.items() if not k.startswith(("gamma", "beta", "dgamma", "dbeta"))}
    net = {k: v for k, v in network("layer", "post").items() if k not in ("norm", "norm_at")}
    report = run(tmp_path, net, plain)
    assert_clean(report)
    assert report.conventions["norm"] == {"layers": ["layer", "layer", None], "at": "post", "eps": 1e-5}


def test_dgamma_without_gamma_is_one_line(tmp_path):
    tensors = {k: v for k, v in user_step("batch", "pre", 4).items() if k not in ("gamma0", "beta0")}
    message = _bad(tmp_path, network("batch", "pre"), tensors)
    assert message == "{trace}: dgamma0 is given without gamma0; write gamma0 too"

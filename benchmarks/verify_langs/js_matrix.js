// A "matrices as arrays of arrays" JavaScript style, backward pass unrolled by hand.
// Habits imitated: helper functions matmul/transpose/map, rows are samples (X is B x n), W in x out
// (Z = X.W + b), a 4-5-5-3 network with two tanh hidden layers and a softmax output (max subtracted),
// cross-entropy averaged over the batch against one-hot targets, dZ = (P - T) / B, db = column sums,
// W -= lr * dW. Everything (z, a, deltas, loss) is dumped with row.join(" "), network.json via JSON.stringify.
// usage: node js_matrix.js OUTDIR [bug | --fd]
const fs = require("fs");
const path = require("path");

let state = 2463534242; // xorshift32
const rand = () => {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
};
const randn = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

const zeros = (r, c) => Array.from({ length: r }, () => new Array(c).fill(0));
const matmul = (A, B) => A.map((row) => B[0].map((_, j) => row.reduce((s, v, k) => s + v * B[k][j], 0)));
const transpose = (A) => A[0].map((_, j) => A.map((row) => row[j]));
const map2 = (A, B, f) => A.map((row, i) => row.map((v, j) => f(v, B[i][j])));
const addBias = (A, b) => A.map((row) => row.map((v, j) => v + b[j]));
const colSums = (A) => A[0].map((_, j) => A.reduce((s, row) => s + row[j], 0));
const softmax = (Z) =>
  Z.map((row) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });

const sizes = [4, 5, 5, 3], B = 6, lr = 0.1;
const W = [], b = [];
for (let i = 0; i < 3; i++) {
  W.push(zeros(sizes[i], sizes[i + 1]).map((row) => row.map(() => randn() / Math.sqrt(sizes[i]))));
  b.push(Array.from({ length: sizes[i + 1] }, () => 0.1 * randn()));
}
const X = zeros(B, 4).map((row) => row.map(() => randn()));
const T = zeros(B, 3).map((row, n) => row.map((_, k) => (k === n % 3 ? 1 : 0)));

function forward(W, b) {
  const Z0 = addBias(matmul(X, W[0]), b[0]), A0 = Z0.map((r) => r.map(Math.tanh));
  const Z1 = addBias(matmul(A0, W[1]), b[1]), A1 = Z1.map((r) => r.map(Math.tanh));
  const Z2 = addBias(matmul(A1, W[2]), b[2]), A2 = softmax(Z2);
  const loss = -A2.reduce((s, row, n) => s + row.reduce((q, p, k) => q + T[n][k] * Math.log(p), 0), 0) / B;
  return { Z: [Z0, Z1, Z2], A: [A0, A1, A2], loss };
}

function backward(f, bug) {
  const dtanh = bug === "tanh_prime_of_z" ? (a, z) => 1 - z * z : (a) => 1 - a * a;
  const n = bug === "no_batch_mean" ? 1 : B;
  const dZ2 = map2(f.A[2], T, (p, t) => (p - t) / n);
  const dA1 = matmul(dZ2, transpose(W[2]));
  const dZ1 = dA1.map((row, i) => row.map((v, j) => v * dtanh(f.A[1][i][j], f.Z[1][i][j])));
  const dA0 = bug === "forgot_transpose" ? matmul(dZ1, W[1]) : matmul(dZ1, transpose(W[1]));
  const dZ0 = dA0.map((row, i) => row.map((v, j) => v * dtanh(f.A[0][i][j], f.Z[0][i][j])));
  const inputs = [X, f.A[0], f.A[1]], deltas = [dZ0, dZ1, dZ2];
  return {
    deltas,
    dW: deltas.map((d, i) => matmul(transpose(inputs[i]), d)),
    db: deltas.map(colSums),
  };
}

const [outDir, bug] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const save = (name, M) => {
  M = Array.isArray(M) ? (Array.isArray(M[0]) ? M : [M]) : [[M]];
  fs.writeFileSync(path.join(outDir, name + ".txt"), M.map((row) => row.join(" ")).join("\n") + "\n");
};

const f = forward(W, b);
const g = backward(f, bug);
if (bug === "--fd") {
  const eps = 1e-6, lines = [];
  const numeric = (P, i, j) => {
    const keep = P[i][j];
    P[i][j] = keep + eps; const up = forward(W, b).loss;
    P[i][j] = keep - eps; const down = forward(W, b).loss;
    P[i][j] = keep;
    return (up - down) / (2 * eps);
  };
  for (let l = 0; l < 3; l++) {
    W[l].forEach((row, i) => row.forEach((_, j) => lines.push(`dW${l} ${g.dW[l][i][j]} ${numeric(W[l], i, j)}`)));
    b[l].forEach((_, j) => lines.push(`db${l} ${g.db[l][j]} ${numeric(b, l, j)}`));
  }
  fs.writeFileSync(path.join(outDir, "fd.txt"), lines.join("\n") + "\n");
  process.exit(0);
}
save("x", X);
save("t", T);
for (let l = 0; l < 3; l++) {
  save(`W${l}`, W[l]);
  save(`b${l}`, b[l]);
  save(`z${l}`, f.Z[l]);
  save(`a${l}`, f.A[l]);
  save(`delta${l}`, g.deltas[l]);
  save(`dW${l}`, g.dW[l]);
  save(`db${l}`, g.db[l]);
}
save("loss", f.loss);
const network = { sizes, activations: ["tanh", "tanh", "softmax"], loss: "cross_entropy", lr };
fs.writeFileSync(path.join(outDir, "network.json"), JSON.stringify(network));

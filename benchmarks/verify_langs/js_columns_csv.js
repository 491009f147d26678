// A deep-learning-course style ported to JavaScript: samples are COLUMNS (X is n_x x m), W is out x in,
// Z = W.A + b with b a column vector (an n x 1 array of arrays), ReLU hidden layer, sigmoid output with the
// binary cross-entropy averaged over the m samples, dZ2 = A2 - Y per sample, dW = dZ.A_prev^T / m,
// db = sum(dZ, axis=1) / m, dZ1 = W2^T.dZ2 * (Z1 > 0). The user first had JSON.stringify(M) in the files,
// then wrote CSV: M.map(row => row.join(",")).join("\n") into .csv files; network.json is pretty-printed
// JSON.stringify(obj, null, 2) and says "samples": "columns". A multiplicative LCG (Park-Miller) seeds it.
// usage: node js_columns_csv.js OUTDIR [bug | --fd]
const fs = require("fs");
const path = require("path");

let s = 48271;
const rand = () => (s = (s * 48271) % 2147483647) / 2147483647;

const zeros = (r, c) => Array.from({ length: r }, () => new Array(c).fill(0));
const dot = (A, B) => A.map((row) => B[0].map((_, j) => row.reduce((acc, v, k) => acc + v * B[k][j], 0)));
const T = (A) => A[0].map((_, j) => A.map((row) => row[j]));
const sigmoid = (z) => 1 / (1 + Math.exp(-z));

const layerDims = [3, 6, 2], m = 5, learningRate = 0.3;
const params = {
  W1: zeros(6, 3).map((r) => r.map(() => (rand() - 0.5) * 1.5)),
  b1: zeros(6, 1).map((r) => r.map(() => (rand() - 0.5) * 0.2)),
  W2: zeros(2, 6).map((r) => r.map(() => (rand() - 0.5) * 1.5)),
  b2: zeros(2, 1).map((r) => r.map(() => (rand() - 0.5) * 0.2)),
};
const X = zeros(3, m).map((r) => r.map(() => rand() * 4 - 2));
const Y = zeros(2, m).map((r, i) => r.map((_, j) => ((i + j) % 3 === 0 ? 1 : 0)));

function forward(p) {
  const Z1 = dot(p.W1, X).map((row, i) => row.map((v) => v + p.b1[i][0]));
  const A1 = Z1.map((row) => row.map((v) => Math.max(0, v)));
  const Z2 = dot(p.W2, A1).map((row, i) => row.map((v) => v + p.b2[i][0]));
  const A2 = Z2.map((row) => row.map(sigmoid));
  let cost = 0;
  A2.forEach((row, i) => row.forEach((a, j) => (cost -= Y[i][j] * Math.log(a) + (1 - Y[i][j]) * Math.log(1 - a))));
  return { Z1, A1, Z2, A2, cost: cost / m };
}

function backward(p, c, bug) {
  let dZ2 = c.A2.map((row, i) => row.map((a, j) => a - Y[i][j]));
  if (bug === "sigmoid_prime_on_ce") dZ2 = dZ2.map((row, i) => row.map((d, j) => d * c.A2[i][j] * (1 - c.A2[i][j])));
  const dW2 = dot(dZ2, T(c.A1)).map((row) => row.map((v) => v / m));
  const db2 = dZ2.map((row) => [row.reduce((a, v) => a + v, 0) / (bug === "db_not_divided" ? 1 : m)]);
  const dA1 = dot(T(p.W2), dZ2);
  const dZ1 = bug === "relu_grad_missing" ? dA1 : dA1.map((row, i) => row.map((v, j) => (c.Z1[i][j] > 0 ? v : 0)));
  const dW1 = dot(dZ1, T(X)).map((row) => row.map((v) => v / m));
  const db1 = dZ1.map((row) => [row.reduce((a, v) => a + v, 0) / m]);
  return { dZ1, dZ2, dW1, db1, dW2, db2 };
}

const [outDir, bug] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const toCsv = (M) => M.map((row) => row.join(",")).join("\n");
const write = (name, M) => fs.writeFileSync(path.join(outDir, name + ".csv"), toCsv(M) + "\n");

const cache = forward(params);
const grads = backward(params, cache, bug);
if (bug === "--fd") {
  const eps = 1e-6, lines = [];
  for (const name of ["W1", "b1", "W2", "b2"]) {
    params[name].forEach((row, i) =>
      row.forEach((keep, j) => {
        params[name][i][j] = keep + eps; const up = forward(params).cost;
        params[name][i][j] = keep - eps; const down = forward(params).cost;
        params[name][i][j] = keep;
        lines.push(`d${name} ${grads["d" + name][i][j]} ${(up - down) / (2 * eps)}`);
      })
    );
  }
  fs.writeFileSync(path.join(outDir, "fd.txt"), lines.join("\n") + "\n");
  process.exit(0);
}
// the course numbers layers from 1 (W1, b1, Z1, A1 for the hidden layer); its Y, dZ and cost are renamed t,
// delta and loss, the names verify asks for
write("X", X);
write("t", Y);
for (const name of ["W1", "b1", "W2", "b2", "dW1", "db1", "dW2", "db2"]) write(name, params[name] || grads[name]);
for (const name of ["Z1", "A1", "Z2", "A2"]) write(name, cache[name]);
write("delta1", grads.dZ1);
write("delta2", grads.dZ2);
write("loss", [[cache.cost]]);
const network = {
  sizes: layerDims,
  activations: ["relu", "sigmoid"],
  loss: "binary_crossentropy",
  lr: learningRate,
  samples: "columns",
};
fs.writeFileSync(path.join(outDir, "network.json"), JSON.stringify(network, null, 2));

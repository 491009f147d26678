// A minimal "no bias" JavaScript regression network, the kind written in a few dozen lines for a blog post.
// Habits imitated: no biases at all, rows are samples, W in x out, 3-8-8-2 with ReLU, ReLU, linear output,
// loss = 1/2 sum over the batch of ||y - t||^2 (a SUM, no division by the batch), dW = A^T.dZ, ReLU mask from
// z > 0, W -= lr * dW. Only what the loop holds is dumped: x, t, the W's, the dW's and the W's after the step
// (no activations, no deltas), each written with fs.writeFileSync(file, M.join("\n")): an array of rows
// joined by newlines, each row printed by Array.prototype.toString as comma-separated numbers.
// The weights come from the sin-based seeded random() snippet found in many blog posts.
// usage: node js_nobias.js OUTDIR [bug | --fd]
const fs = require("fs");
const path = require("path");

let seed = 1;
function rng() {
  const v = Math.sin(seed++) * 10000; // the well-known "seeded Math.random" hack
  return v - Math.floor(v);
}

const sizes = [3, 8, 8, 2], batch = 5, lr = 0.05;
const matrix = (r, c, f) => Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => f(i, j)));
const mul = (A, B) => matrix(A.length, B[0].length, (i, j) => A[i].reduce((s, v, k) => s + v * B[k][j], 0));
const tr = (A) => matrix(A[0].length, A.length, (i, j) => A[j][i]);

const W = [0, 1, 2].map((l) => matrix(sizes[l], sizes[l + 1], () => (rng() * 2 - 1) * Math.sqrt(3 / sizes[l])));
const X = matrix(batch, 3, () => rng() * 2 - 1);
const T = X.map(([p, q, r]) => [p * q - r, Math.sin(p + r)]);

function forward(W) {
  const Z = [], A = [X];
  for (let l = 0; l < 3; l++) {
    Z.push(mul(A[l], W[l]));
    A.push(l < 2 ? Z[l].map((row) => row.map((v) => Math.max(v, 0))) : Z[l]);
  }
  const loss = A[3].reduce((s, row, n) => s + row.reduce((q, y, k) => q + 0.5 * (y - T[n][k]) ** 2, 0), 0);
  return { Z, A, loss };
}

function gradients(W, bug) {
  const { Z, A } = forward(W);
  const dW = [];
  let dZ = A[3].map((row, n) => row.map((y, k) => y - T[n][k]));
  for (let l = 2; l >= 0; l--) {
    if (bug === "transposed_dW" && l === 1) dW[l] = mul(tr(dZ), A[l]);
    else if (bug === "dW_from_z" && l === 2) dW[l] = mul(tr(Z[l - 1]), dZ);
    else dW[l] = mul(tr(A[l]), dZ);
    if (l > 0) {
      const dA = mul(dZ, tr(W[l]));
      dZ = bug === "no_relu_mask" && l === 2 ? dA : dA.map((row, n) => row.map((v, j) => (Z[l - 1][n][j] > 0 ? v : 0)));
    }
  }
  return dW;
}

const [outDir, bug] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const save = (name, M) => fs.writeFileSync(path.join(outDir, name + ".txt"), M.join("\n"));

const dW = gradients(W, bug);
if (bug === "--fd") {
  const eps = 1e-6, lines = [];
  W.forEach((M, l) =>
    M.forEach((row, i) =>
      row.forEach((keep, j) => {
        row[j] = keep + eps; const up = forward(W).loss;
        row[j] = keep - eps; const down = forward(W).loss;
        row[j] = keep;
        lines.push(`dW${l} ${dW[l][i][j]} ${(up - down) / (2 * eps)}`);
      })
    )
  );
  fs.writeFileSync(path.join(outDir, "fd.txt"), lines.join("\n") + "\n");
  process.exit(0);
}
save("x", X);
save("t", T);
W.forEach((M, l) => {
  save(`W${l}`, M);
  save(`dW${l}`, dW[l]);
  save(`W${l}.after`, M.map((row, i) => row.map((w, j) => w - lr * dW[l][i][j])));
});
fs.writeFileSync(
  path.join(outDir, "network.json"),
  JSON.stringify({ sizes, activations: ["relu", "relu", "linear"], loss: "mse", lr })
);

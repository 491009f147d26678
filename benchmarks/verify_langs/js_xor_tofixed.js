// The classic "XOR in plain JavaScript" tutorial: 2-3-1, sigmoid everywhere, the four XOR patterns as one
// batch. Habits imitated: weightsIH / weightsHO as in x out arrays from Math.random()-like init (here a
// seeded LCG), errors = targets - outputs, gradient = errors * out * (1 - out), hidden errors through
// weightsHO, weight changes averaged over the 4 patterns and ADDED (weights += lr * change), the mean squared
// error 1/2 (t - y)^2 over the batch. Every number is written with toFixed(6) (tidy files, 6 decimals: lossy),
// joined by spaces; deltas per pattern, not divided by 4; network.json is a hand-written string.
// usage: node js_xor_tofixed.js OUTDIR [bug | --fd]
const fs = require("fs");
const path = require("path");

let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const dsigmoid = (x) => sigmoid(x) * (1 - sigmoid(x));

const inputs = [[0, 0], [0, 1], [1, 0], [1, 1]];
const targets = [[0], [1], [1], [0]];
const nIn = 2, nHidden = 3, nOut = 1, lr = 0.5;
const weightsIH = Array.from({ length: nIn }, () => Array.from({ length: nHidden }, () => random() * 4 - 2));
const biasH = Array.from({ length: nHidden }, () => random() * 2 - 1);
const weightsHO = Array.from({ length: nHidden }, () => Array.from({ length: nOut }, () => random() * 4 - 2));
const biasO = Array.from({ length: nOut }, () => random() * 2 - 1);
const copy = (M) => JSON.parse(JSON.stringify(M));

function feed(input) {
  const hidden = biasH.map((b, j) => sigmoid(b + input.reduce((s, v, i) => s + v * weightsIH[i][j], 0)));
  const output = biasO.map((b, k) => sigmoid(b + hidden.reduce((s, h, j) => s + h * weightsHO[j][k], 0)));
  return { hidden, output };
}
const meanError = () =>
  inputs.reduce((s, x, n) => s + feed(x).output.reduce((q, y, k) => q + 0.5 * (targets[n][k] - y) ** 2, 0), 0) / 4;

function train(bug) {
  const out = inputs.map(feed);
  const gradO = out.map(({ output }, n) =>
    output.map((y, k) => {
      const error = targets[n][k] - y;
      if (bug === "no_output_derivative") return error;
      return error * (bug === "dsigmoid_of_output" ? dsigmoid(y) : y * (1 - y));
    })
  );
  const dWHO = weightsHO.map((row, j) => row.map((_, k) => out.reduce((s, o, n) => s + o.hidden[j] * gradO[n][k], 0) / 4));
  const dBO = biasO.map((_, k) => gradO.reduce((s, g) => s + g[k], 0) / 4);
  if (bug === "update_before_backprop") {
    weightsHO.forEach((row, j) => row.forEach((_, k) => (weightsHO[j][k] += lr * dWHO[j][k])));
  }
  const gradH = out.map(({ hidden }, n) =>
    hidden.map((h, j) => {
      const error = weightsHO[j].reduce((s, w, k) => s + w * gradO[n][k], 0);
      return error * (bug === "dsigmoid_of_output" ? dsigmoid(h) : h * (1 - h));
    })
  );
  const dWIH = weightsIH.map((row, i) => row.map((_, j) => inputs.reduce((s, x, n) => s + x[i] * gradH[n][j], 0) / 4));
  const dBH = biasH.map((_, j) => gradH.reduce((s, g) => s + g[j], 0) / 4);
  return { out, gradO, gradH, dWIH, dBH, dWHO, dBO };
}

const [outDir, bug] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const save = (name, M) => {
  M = Array.isArray(M[0]) ? M : [M];
  fs.writeFileSync(path.join(outDir, name + ".txt"), M.map((row) => row.map((v) => v.toFixed(6)).join(" ")).join("\n") + "\n");
};

if (bug === "--fd") {
  const g = train(), eps = 1e-6, lines = [];
  const params = [["dW0", weightsIH, g.dWIH], ["db0", [biasH], [g.dBH]], ["dW1", weightsHO, g.dWHO], ["db1", [biasO], [g.dBO]]];
  for (const [name, P, G] of params) {
    P.forEach((row, i) =>
      row.forEach((keep, j) => {
        row[j] = keep + eps; const up = meanError();
        row[j] = keep - eps; const down = meanError();
        row[j] = keep;
        lines.push(`${name} ${-G[i][j]} ${(up - down) / (2 * eps)}`); // the program's change is -dE/dw
      })
    );
  }
  fs.writeFileSync(path.join(outDir, "fd.txt"), lines.join("\n") + "\n");
  process.exit(0);
}

const before = copy([weightsIH, biasH, weightsHO, biasO]);
const g = train(bug);
weightsHO.forEach((row, j) => row.forEach((_, k) => (weightsHO[j][k] += bug === "update_before_backprop" ? 0 : lr * g.dWHO[j][k])));
biasO.forEach((_, k) => (biasO[k] += lr * g.dBO[k]));
weightsIH.forEach((row, i) => row.forEach((_, j) => (weightsIH[i][j] += lr * g.dWIH[i][j])));
biasH.forEach((_, j) => (biasH[j] += lr * g.dBH[j]));

save("x", inputs);
save("t", targets);
save("W0", before[0]);
save("b0", before[1]);
save("W1", before[2]);
save("b1", before[3]);
save("a0", g.out.map((o) => o.hidden));
save("a1", g.out.map((o) => o.output));
save("delta0", g.gradH);
save("delta1", g.gradO);
save("dW0", g.dWIH);
save("db0", g.dBH);
save("dW1", g.dWHO);
save("db1", g.dBO);
save("W0.after", weightsIH);
save("b0.after", biasH);
save("W1.after", weightsHO);
save("b1.after", biasO);
fs.writeFileSync(
  path.join(outDir, "network.json"),
  '{"sizes": [2, 3, 1], "activations": ["sigmoid", "sigmoid"], "loss": "mse", "lr": ' + lr + "}\n"
);

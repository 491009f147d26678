// An object-oriented JavaScript tutorial style: class Neuron { weights, bias, output, delta }, Layer, Network.
// Habits imitated: one Neuron per unit holding its own weight array (one per input, so W is written out x in),
// random() * 2 - 1 init from a home-made LCG, sigmoid hidden and sigmoid output, squared error
// 1/2 (target - output)^2 on ONE sample (batch 1), error = target - output, neuron.delta = error * f'(output),
// weights += lr * delta * input (so the dumped dW is -dL/dW). Tensors are dumped with row.join(" ") (a Number
// prints every digit it needs), network.json with JSON.stringify; W.after shows the update direction.
// usage: node js_neurons.js OUTDIR [bug | --fd]
const fs = require("fs");
const path = require("path");

let seed = 12345;
const random = () => (seed = (seed * 1664525 + 1013904223) % 4294967296) / 4294967296;

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const sigmoidDerivative = (x) => sigmoid(x) * (1 - sigmoid(x));

class Neuron {
  constructor(nInputs) {
    this.weights = Array.from({ length: nInputs }, () => random() * 2 - 1);
    this.bias = random() * 2 - 1;
    this.delta = 0;
  }
  activate(inputs) {
    this.inputs = inputs;
    this.sum = this.bias + inputs.reduce((s, v, i) => s + v * this.weights[i], 0);
    this.output = sigmoid(this.sum);
    return this.output;
  }
  update(lr) {
    this.weights = this.weights.map((w, i) => w + lr * this.delta * this.inputs[i]);
    this.bias += lr * this.delta;
  }
}

class Layer {
  constructor(nInputs, nNeurons) {
    this.neurons = Array.from({ length: nNeurons }, () => new Neuron(nInputs));
  }
  forward(inputs) {
    return this.neurons.map((n) => n.activate(inputs));
  }
}

class Network {
  constructor(sizes) {
    this.layers = [new Layer(sizes[0], sizes[1]), new Layer(sizes[1], sizes[2])];
  }
  forward(inputs) {
    return this.layers.reduce((a, layer) => layer.forward(a), inputs);
  }
  loss(inputs, targets) {
    return this.forward(inputs).reduce((s, y, k) => s + 0.5 * (targets[k] - y) ** 2, 0);
  }
  train(inputs, targets, lr, bug) {
    this.forward(inputs);
    const [hidden, output] = this.layers;
    const slope = (n) => (bug === "derivative_at_output" ? sigmoidDerivative(n.output) : n.output * (1 - n.output));
    output.neurons.forEach((n, k) => {
      const error = targets[k] - n.output;
      n.delta = bug === "no_output_derivative" ? error : error * slope(n);
    });
    if (bug === "update_before_backprop") output.neurons.forEach((n) => n.update(lr));
    hidden.neurons.forEach((n, j) => {
      const error = output.neurons.reduce((s, m) => s + m.weights[j] * m.delta, 0);
      n.delta = error * slope(n);
    });
    if (bug !== "update_before_backprop") output.neurons.forEach((n) => n.update(lr));
    hidden.neurons.forEach((n) => n.update(lr));
  }
}

const [outDir, bug] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const save = (name, rows) => {
  rows = Array.isArray(rows[0]) ? rows : [rows];
  fs.writeFileSync(path.join(outDir, name + ".txt"), rows.map((row) => row.join(" ")).join("\n") + "\n");
};
const sizes = [3, 4, 2], lr = 0.5;
const inputs = [0.9, -0.4, 0.3], targets = [0.1, 0.8];
const net = new Network(sizes);

if (bug === "--fd") {
  // the program's dL/dparam (-delta * input) against central differences of its own loss
  const eps = 1e-6, lines = [];
  net.train(inputs, targets, 0);
  const analytic = net.layers.map((l) => l.neurons.map((n) => [n.inputs.map((v) => -n.delta * v), -n.delta]));
  const numeric = (set) => {
    set(eps); const up = net.loss(inputs, targets);
    set(-2 * eps); const down = net.loss(inputs, targets);
    set(eps); return (up - down) / (2 * eps);
  };
  net.layers.forEach((layer, k) =>
    layer.neurons.forEach((n, j) => {
      const [dw, db] = analytic[k][j];
      dw.forEach((g, i) => lines.push(`dW${k} ${g} ${numeric((e) => (n.weights[i] += e))}`));
      lines.push(`db${k} ${db} ${numeric((e) => (n.bias += e))}`);
    })
  );
  fs.writeFileSync(path.join(outDir, "fd.txt"), lines.join("\n") + "\n");
  process.exit(0);
}

const before = net.layers.map((l) => l.neurons.map((n) => [[...n.weights], n.bias]));
net.train(inputs, targets, lr, bug);
save("x", inputs);
save("t", targets);
net.layers.forEach((layer, k) => {
  save(`W${k}`, before[k].map((wb) => wb[0]));
  save(`b${k}`, before[k].map((wb) => wb[1]));
  save(`a${k}`, layer.neurons.map((n) => n.output));
  save(`delta${k}`, layer.neurons.map((n) => n.delta));
  save(`dW${k}`, layer.neurons.map((n) => n.inputs.map((v) => n.delta * v)));
  save(`db${k}`, layer.neurons.map((n) => n.delta));
  save(`W${k}.after`, layer.neurons.map((n) => n.weights));
  save(`b${k}.after`, layer.neurons.map((n) => n.bias));
});
const network = { sizes, activations: ["sigmoid", "sigmoid"], loss: "mse", lr };
fs.writeFileSync(path.join(outDir, "network.json"), JSON.stringify(network));

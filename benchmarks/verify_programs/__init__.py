"""Hand-written networks in the conventions of well-known tutorials and courses, for benchmarks/verify_real.py.

Each module is standalone NumPy (no gradwise inside the network code) and exposes:

- ``write(folder, bug=None)``: run one training step, the bug injected if named, and dump the trace the way a
  user of that style would (its own file format, its own layouts, its own network.json);
- ``EXPECTED``: ``{None: "correct", bug: ((kind, ...), tensor)}``, the kinds in docs/verify.md;
- ``gradcheck_problem()``: ``(params, cost, grads)`` for the runner's finite-difference check of the correct
  program: ``cost(params)`` is the objective, ``grads(params)`` the program's own gradients (its bug-free code),
  signed as d cost / d param.
"""

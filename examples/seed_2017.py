"""The seed's story: the 2017 network that would not learn, what the doctor says about it, and the fix.

In 2017 the code gradwise grew from trained a 784-1000-10 network on MNIST: logistic (sigmoid) hidden
units, a softmax output trained with squared error, every weight drawn from U(0, 1), plain SGD at a
learning rate of 0.05 on batches of 20. It stayed at chance, and the question was why.

    python examples/seed_2017.py        # about two minutes on two quiet cores

The same steps from a shell: `gradwise doctor --preset seed-2017`, then `gradwise train --preset
seed-2017 --repair` (which applies each first fix and restarts), then `gradwise train`.
"""

from __future__ import annotations

import gradwise as gw
from gradwise.cli.flags import fix_flags
from gradwise.cli.panels import diagnosis_panel
from gradwise.train.runner import Result, train

STEPS = 300  # long enough for the health monitor to see the trend; the seed learned nothing in 10 epochs


def run(config: gw.TrainConfig, what: str) -> Result:
    result = train(config, None)  # MNIST ships with gradwise; None: keep no run folder
    print(f"{what}: test accuracy {result.test_accuracy:.4f} after {result.summary()['steps']} steps")
    return result


def main() -> float:
    # 1. Replay the author's run, briefly.
    seed = gw.preset("seed-2017", max_steps=STEPS)
    replay = run(seed, "1. the seed's network")

    # 2. Let the doctor explain it. Before the first step: softmax with squared error (its gradient vanishes
    #    through the softmax when the outputs are confident) and every hidden unit saturated, because
    #    U(0, 1) weights add up hundreds of positive pixels. While training: the first layer's gradient
    #    vanishes, orders of magnitude below the last layer's.
    print("\n2. the doctor's diagnoses:")
    for diagnosis in replay.diagnoses:
        print(diagnosis_panel(diagnosis))

    # 3. Apply the first fix of each check before training to the seed's configuration (what --repair does
    #    first), and replay the same number of steps: --loss ce and --init glorot_uniform. A fix is data:
    #    ``fix.changes`` is the TrainConfig fields to set, ``fix_flags(fix)`` the same as command-line flags.
    fixes: dict[str, object] = {}
    for diagnosis in replay.diagnoses:
        if diagnosis.step == 0 and diagnosis.fix:
            fixes.update(diagnosis.fix[0].changes)
    flags = " ".join(fix_flags(d.fix[0]) for d in replay.diagnoses if d.step == 0 and d.fix)
    print(f"\n3. applying {flags}")
    fixed = run(seed.with_overrides(**fixes), "   the seed's network, fixed")

    # 4. Those fixes are the default preset's choices: ReLU units with He weights, softmax cross-entropy.
    #    It adds momentum 0.9 and batches of 128. Train it until the validation images (the last 10,000
    #    training images, never the test set) reach 98.2 %, at most 20 epochs: about 12 epochs, a minute or so.
    print("\n4. the default configuration: the fix, in full")
    final = run(gw.preset("default", target_accuracy=0.982), "   784-1000-10 ReLU, He init, cross-entropy, momentum")
    assert fixed.test_accuracy > replay.test_accuracy + 0.5, "the fixes should turn chance into learning"
    print(f"\ntest accuracy: {final.test_accuracy:.4f}")
    return final.test_accuracy


if __name__ == "__main__":
    main()

"""__TITLE__ — the program of experiment __ID__.

Runs on its own with `python __PROGRAM__`; under labreport its output, its figures and the
global variables that the spec's record: names go into the record.
"""

import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(0)  # a fixed seed: every build prints the same numbers

# A stand-in for training: replace with your model.
losses = []
loss = 1.0
for epoch in range(1, 21):
    loss *= 0.8 + 0.05 * rng.random()
    losses.append(loss)
    if epoch % 5 == 0:
        print(f"Epoch {epoch:2d}: loss {loss:.4f}")

initial_loss, final_loss = losses[0], losses[-1]

plt.plot(range(1, len(losses) + 1), losses)
plt.xlabel("epoch")
plt.ylabel("loss")
plt.title("Training loss")
plt.show()

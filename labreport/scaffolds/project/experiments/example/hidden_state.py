"""One recurrent neuron, h_t = tanh(w x_t + u h_{t-1}), fed a single pulse."""

import matplotlib.pyplot as plt
import numpy as np

w, u, steps = 1.5, 0.8, 20
x = np.zeros(steps)
x[0] = 1.0  # a single pulse at the first step

h = np.zeros(steps)
previous = 0.0
for t in range(steps):
    previous = np.tanh(w * x[t] + u * previous)
    h[t] = previous
    print(f"step {t:2d}: h = {h[t]:.4f}")

h_first, h_last = h[0], h[-1]

plt.plot(h, marker="o")
plt.xlabel("time step")
plt.ylabel("hidden state h_t")
plt.title("The memory of one pulse")
plt.show()

"""Simple plot, saved to files: the way most matplotlib gallery scripts start."""

import matplotlib

matplotlib.use("Agg")  # headless: no display on the machine that runs this

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

t = np.arange(0.0, 2.0, 0.01)
s = 1 + np.sin(2 * np.pi * t)

fig, ax = plt.subplots()
ax.plot(t, s)
ax.set(xlabel="time (s)", ylabel="voltage (mV)", title="About as simple as it gets")
ax.grid()
plt.savefig("simple_plot.pdf")
plt.close()

# Saved twice, as PNG and PDF: one figure in the record.
fig, ax = plt.subplots()
ax.hist(np.random.randn(200), bins=20)
ax.set_title("Histogram")
fig.savefig("histogram.png", dpi=80)
fig.savefig("histogram.pdf")

# Made third, saved before the histogram was closed, still open at exit.
plt.figure()
plt.scatter([1, 2, 3], [3, 1, 2])
plt.title("Left open")

print("backend:", matplotlib.get_backend())

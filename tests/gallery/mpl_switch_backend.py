"""plt.switch_backend, show() under a file backend, and the object-oriented API without pyplot."""

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

plt.switch_backend("agg")

plt.plot([1, 2, 3], [1, 4, 9])
plt.title("Shown, then saved")
plt.show()  # Agg shows nothing and keeps the figure open ...
plt.savefig("squares.png")  # ... so this saves the same figure: one capture

# Embedding-style: no pyplot at all.
fig = Figure(figsize=(3, 2))
ax = fig.subplots()
ax.bar(["a", "b", "c"], [3, 1, 2])
ax.set_title("Object-oriented")
fig.savefig("bars.svg")

# Saved, then changed, then left open: the record shows its last state.
fig2, ax2 = plt.subplots()
(line,) = ax2.plot([0, 1], [0, 1])
ax2.set_title("before the change")
fig2.savefig("line.png")
line.set_ydata([1, 0])
ax2.set_title("after the change")

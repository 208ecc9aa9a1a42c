"""Written on a desktop: an interactive backend, a blocking show() and a live-updating plot."""

import matplotlib

matplotlib.use("TkAgg")

import matplotlib.pyplot as plt  # noqa: E402

plt.plot([3, 1, 2])
plt.title("Window")
plt.show()  # blocks until the window is closed, on a desktop

plt.ion()
fig, ax = plt.subplots()
ax.set_title("Live loss")
losses = []
for epoch in range(5):
    losses.append(1 / (epoch + 1))
    ax.plot(losses, "b-")
    plt.pause(0.001)
plt.ioff()
plt.close(fig)
print("done after", len(losses), "epochs")

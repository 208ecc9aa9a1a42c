"""Choose the backend through the environment, then save one figure in each common format."""

import os

os.environ["MPLBACKEND"] = "Agg"

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

x = np.linspace(0, 1, 20)
for power, ext in enumerate(["png", "jpg", "svg", "pdf"], start=1):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(x, x**power)
    ax.set_title(f"x^{power} as {ext}")
    fig.savefig(f"power{power}.{ext}")
    plt.close(fig)
    print(f"power{power}.{ext}", os.path.getsize(f"power{power}.{ext}") > 0)

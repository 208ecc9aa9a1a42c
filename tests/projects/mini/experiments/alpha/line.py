import matplotlib.pyplot as plt
import numpy as np

from labreport.record import record

x = np.arange(5)
y = np.loadtxt("points.txt")
slope = float(np.polyfit(x, y, 1)[0])
print("points:", y.tolist())
print("noise sample:", np.random.rand())
record("slope", round(slope, 3))
plt.plot(x, y, "o-")
plt.title("The line")
plt.show()

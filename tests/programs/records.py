import numpy as np

from labreport.record import record

record("mse", np.float32(0.25))
record("epochs", 10)
record("name", "lstm")
print("done")

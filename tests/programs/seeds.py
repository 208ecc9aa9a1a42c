import random
import sys

import numpy as np

print(random.random(), np.random.rand(), "torch imported:", "torch" in sys.modules)

import random
import sys

import numpy as np

a, b = np.random.default_rng(), np.random.default_rng()  # unseeded: seeded by the harness
assert a.random() != b.random(), "two unseeded generators must not share a stream"
print(random.random(), np.random.rand(), np.random.default_rng().random())
print(np.random.default_rng(5).random(), "torch imported:", "torch" in sys.modules)

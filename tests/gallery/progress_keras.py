"""A vanilla RNN in NumPy (textbook style), trained with a Keras-style progress bar.

The bar is redrawn the way keras.utils.Progbar does it: backspaces over the previous bar,
a carriage return, then the new bar padded to the old width.
"""

import sys

import numpy as np


class Progbar:
    def __init__(self, target, width=20):
        self.target, self.width, self._prev = target, width, 0

    def update(self, current, loss):
        sys.stdout.write("\b" * self._prev + "\r")
        numdigits = len(str(self.target))
        done = int(self.width * current / self.target)
        bar = f"{current:{numdigits}d}/{self.target} ["
        bar += "=" * max(done - 1, 0) + (">" if current < self.target else "=") * (done > 0)
        bar += "." * (self.width - done) + "]"
        info = f" - loss: {loss:.4f}" if current < self.target else " - done"
        line = bar + info
        sys.stdout.write(line + " " * max(self._prev - len(line), 0))
        self._prev = len(line)
        if current >= self.target:
            sys.stdout.write("\n")
        sys.stdout.flush()


rng = np.random.default_rng(0)
hidden, vocab, steps = 8, 5, 6
Wxh = rng.normal(0, 0.1, (hidden, vocab))
Whh = rng.normal(0, 0.1, (hidden, hidden))
Why = rng.normal(0, 0.1, (vocab, hidden))
inputs = [0, 1, 2, 3, 4, 0]
targets = [1, 2, 3, 4, 0, 1]

progbar = Progbar(target=steps)
for step in range(1, steps + 1):
    h, loss = np.zeros(hidden), 0.0
    for t, ix in enumerate(inputs):
        x = np.zeros(vocab)
        x[ix] = 1
        h = np.tanh(Wxh @ x + Whh @ h)
        y = Why @ h
        p = np.exp(y) / np.exp(y).sum()
        loss -= np.log(p[targets[t]])
    progbar.update(step, loss)
print("hidden state norm is finite:", bool(np.isfinite(np.linalg.norm(h))))

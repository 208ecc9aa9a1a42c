"""tqdm-style bars, written by hand: carriage-return redraws, a nested bar drawn with cursor-up."""

import sys


def bar(desc, n, total, width=10):
    filled = width * n // total
    return f"{desc}: {100 * n // total:3d}%|{'#' * filled}{' ' * (width - filled)}| {n}/{total}"


total = 20
for n in range(total + 1):
    sys.stderr.write("\r" + bar("train", n, total))
    sys.stderr.flush()
sys.stderr.write("\n")

# Nested bars (tqdm's position=1): the inner bar on the next line, then back up to the outer.
for epoch in range(1, 4):
    sys.stderr.write("\r" + bar("epochs", epoch - 1, 3))
    for step in range(0, 5):
        sys.stderr.write("\n\r" + bar("  batch", step + 1, 5) + "\x1b[A")
sys.stderr.write("\r" + bar("epochs", 3, 3) + "\n\n")
print("finished")

"""Data read next to the script and from the working folder; results written there and read back."""

import csv
import os
from pathlib import Path

here = Path(__file__).parent
with open(here / "data" / "points.csv") as fh:
    by_file = list(csv.DictReader(fh))
with open(os.path.join("data", "points.csv")) as fh:  # relative to the working folder
    by_cwd = list(csv.DictReader(fh))
print("rows next to the script:", len(by_file), "from the working folder:", len(by_cwd))

os.makedirs("results", exist_ok=True)
Path("results/summary.txt").write_text(f"{len(by_file)} rows\n")
print("read back:", Path("results/summary.txt").read_text().strip())

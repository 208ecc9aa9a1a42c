# Three children of 60 MB each: none is over 100 MiB alone, together they are.
import subprocess
import sys
import time

HOLD = "import time; x = bytearray(60 * 2**20); print('holding', flush=True); time.sleep(60)"
children = [subprocess.Popen([sys.executable, "-c", HOLD]) for _ in range(3)]
print("children", *[child.pid for child in children], flush=True)
time.sleep(60)

import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(f"grandchild pid {child.pid}", flush=True)
while True:
    time.sleep(0.1)

# Never ends, and starts two grandchildren: one in its process group, one that left it (setsid).
import subprocess
import sys

SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]
stays = subprocess.Popen(SLEEP)
leaves = subprocess.Popen(SLEEP, start_new_session=True)
print("grandchildren", stays.pid, leaves.pid, flush=True)
while True:
    pass

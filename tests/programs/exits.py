import os
import signal
import sys

mode = sys.argv[1]
print("started", mode, flush=True)
if mode == "exit0":
    sys.exit(0)
elif mode == "os_exit":
    os._exit(3)
elif mode == "signal":
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "stdin":
    print("read:", repr(sys.stdin.read()))
    input()
print("not reached")

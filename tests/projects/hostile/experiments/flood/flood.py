# 300 MB of output, then a last line that the capture cap leaves out.
import sys

block = b"y" * (1 << 20)
for _ in range(300):
    sys.stdout.buffer.write(block)
print("the end")

# Reads address 0 from C: a segmentation fault, not a Python exception.
import ctypes

print("about to crash", flush=True)
ctypes.string_at(0)

# Bytes no terminal shows as such: invalid UTF-8, NUL, ANSI colours, a \r progress bar, C1 codes.
import sys

out = sys.stdout.buffer
out.write(b"latin-1 caf\xe9\n")
out.write(b"nul\x00byte bell\x07\n")
out.write(b"\x1b[1;32mgreen\x1b[0m and \x1b]0;window title\x07plain\n")
for i in range(1, 101):
    out.write(f"\rprogress {i:3d}%".encode())
out.write(b"\n")
out.write("c1\u0085control\u009b\n".encode())
out.flush()

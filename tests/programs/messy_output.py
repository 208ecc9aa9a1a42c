import sys

sys.stdout.buffer.write(b"bad byte \xff here\n")
sys.stdout.buffer.write(b"nul\x00byte\n")
print("\x1b[31mred\x1b[0m text")
for i in range(1, 4):
    print(f"\rprogress {i}/3", end="")
print()

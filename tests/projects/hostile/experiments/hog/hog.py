# Allocates (and touches) memory without bound.
hoard = []
print("allocating", flush=True)
while True:
    hoard.append(bytearray(10**6))

import csv
import struct
import zlib

from labreport.record import record

with open("points.csv", newline="") as f:
    rows = [(int(r["x"]), int(r["y"])) for r in csv.DictReader(f)]
n = len(rows)
sx, sy = sum(x for x, _ in rows), sum(y for _, y in rows)
sxx, sxy = sum(x * x for x, _ in rows), sum(x * y for x, y in rows)
slope = (n * sxy - sx * sy) // (n * sxx - sx * sx)
record("slope", slope)
with open("fit.txt", "w") as f:
    f.write(f"slope = {slope}\n")


def png(width: int, height: int) -> bytes:
    """A white PNG, written by hand: the test needs an image file, not a plotting library."""
    raw = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


with open("residuals.png", "wb") as f:
    f.write(png(4, 3))
print("slope", slope)

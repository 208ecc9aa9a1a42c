"""Counts three items and draws as many bars into bars.png (standard library only)."""

import struct
import zlib

total = 0
for item in ("a", "b", "c"):
    total += 1
    print(f"item {item}: count {total}")


def png(width, height, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    image = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + image


rows = [[0 if (x // 20) < total and y > 20 else 255 for x in range(80)] for y in range(40)]
with open("bars.png", "wb") as fh:
    fh.write(png(80, 40, rows))

#!/usr/bin/env python3
"""Draws the Swarmcast app icon and writes assets/icon.png (1024x1024), assets/icon.ico
(16-256 px, PNG-compressed entries) and assets/icon.icns (16-1024 px, PNG entries).
Needs only Python 3 and numpy. Run: python3 assets/icon-make.py"""
import os
import struct
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SS = 4  # supersampling factor per axis


def render(size: int) -> np.ndarray:
    n = size * SS
    # Pixel-centre coordinates in units of the 1024 design grid.
    c = (np.arange(n, dtype=np.float32) + 0.5) * (1024.0 / n)
    x, y = np.meshgrid(c, c)

    def rounded_rect(x0, y0, x1, y1, r):
        qx = np.maximum(np.maximum(x0 + r - x, x - (x1 - r)), 0)
        qy = np.maximum(np.maximum(y0 + r - y, y - (y1 - r)), 0)
        return (qx * qx + qy * qy <= r * r) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)

    def disc(cx, cy, r):
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

    def segment(ax, ay, bx, by, w):
        dx, dy = bx - ax, by - ay
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
        return (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 <= (w / 2) ** 2

    def triangle(p0, p1, p2):
        def side(a, b):
            return (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
        s0, s1, s2 = side(p0, p1), side(p1, p2), side(p2, p0)
        return ((s0 >= 0) & (s1 >= 0) & (s2 >= 0)) | ((s0 <= 0) & (s1 <= 0) & (s2 <= 0))

    rgb = np.zeros((n, n, 3), dtype=np.float32)
    alpha = np.zeros((n, n), dtype=np.float32)

    # Background: rounded square with a diagonal indigo-to-cyan gradient.
    bg = rounded_rect(100, 100, 924, 924, 185)
    t = np.clip((x + y - 200) / 1648.0, 0, 1)[..., None]
    top = np.array([0.29, 0.19, 0.86], dtype=np.float32)
    bottom = np.array([0.05, 0.65, 0.91], dtype=np.float32)
    rgb[bg] = (top * (1 - t) + bottom * t)[bg]
    alpha[bg] = 1.0

    # The swarm: six peers on a hexagon, linked to their neighbours and to the centre.
    cx, cy, ring = 512.0, 512.0, 290.0
    angles = np.deg2rad(np.arange(6) * 60.0 + 30.0)
    peers = [(cx + ring * np.cos(a), cy + ring * np.sin(a)) for a in angles]
    links = np.zeros_like(bg)
    for i, (px, py) in enumerate(peers):
        qx, qy = peers[(i + 1) % 6]
        links |= segment(px, py, qx, qy, 14)
    faint = links & bg
    rgb[faint] = rgb[faint] * 0.55 + 0.45
    for px, py in peers:
        d = disc(px, py, 46) & bg
        rgb[d] = 1.0

    # The stream: a white play triangle in the middle, on a soft dark disc.
    hub = disc(cx, cy, 178) & bg
    rgb[hub] = rgb[hub] * 0.35
    play = triangle((455, 400), (455, 624), (630, 512))
    rgb[play] = 1.0

    # Downsample (box filter) with premultiplied alpha.
    pre = np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=2)
    pre = pre.reshape(size, SS, size, SS, 4).mean(axis=(1, 3))
    a = pre[..., 3:4]
    color = np.where(a > 0, pre[..., :3] / np.maximum(a, 1e-6), 0)
    out = np.concatenate([color, a], axis=2)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def png_bytes(img: np.ndarray) -> bytes:
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def ico_bytes(pngs: dict) -> bytes:
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for s in sizes:
        data = pngs[s]
        dim = 0 if s >= 256 else s  # 0 means 256 in ICO
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def icns_bytes(pngs: dict) -> bytes:
    types = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09", 1024: b"ic10"}
    body = b"".join(types[s] + struct.pack(">I", 8 + len(pngs[s])) + pngs[s] for s in sorted(types))
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> None:
    sizes = [16, 24, 32, 48, 64, 128, 256, 512, 1024]
    pngs = {s: png_bytes(render(s)) for s in sizes}
    with open(os.path.join(HERE, "icon.png"), "wb") as f:
        f.write(pngs[1024])
    with open(os.path.join(HERE, "icon.ico"), "wb") as f:
        f.write(ico_bytes({s: pngs[s] for s in (16, 24, 32, 48, 64, 128, 256)}))
    with open(os.path.join(HERE, "icon.icns"), "wb") as f:
        f.write(icns_bytes(pngs))


if __name__ == "__main__":
    main()

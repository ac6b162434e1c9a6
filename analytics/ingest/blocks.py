"""The spool's storage form: the `events` columns of a batch in ClickHouse's Native encoding.

A spooled batch is one blob: a header (magic, row count, the byte length of each column) followed by every
column of the `events` table already encoded as ClickHouse's Native format encodes a column: UUID as two
little-endian UInt64 halves, DateTime as little-endian UInt32 unix seconds, String as a varint length and the
UTF-8 bytes. Native columns of consecutive batches concatenate into the columns of one block, so the writer
joins byte strings (no Python work per row) and hands one block to chDB (``FORMAT Native``) or to the server
(a Native data packet over the TCP protocol).

Blobs written before this form existed hold JSONEachRow lines; they are converted when read.
"""

from __future__ import annotations

import json
import struct
import sys
import uuid
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from analytics.migrations import EVENT_COLUMNS, EVENT_TYPES

MAGIC = b"CNB1"
if not set(EVENT_TYPES) <= {"UUID", "DateTime", "String"}:
    raise ImportError(f"analytics.ingest.blocks encodes UUID, DateTime and String columns, not {EVENT_TYPES}")
_COLUMNS = len(EVENT_COLUMNS)
_HEADER = struct.Struct(f"<4sI{_COLUMNS}I")
_LITTLE_ENDIAN = sys.byteorder == "little"
_UINT32 = struct.Struct("<I")
_UINT32_MAX = 0xFFFFFFFF


def varint(value: int) -> bytes:
    """ClickHouse's unsigned LEB128 varint."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# One-byte length prefixes for the common short strings.
_SHORT = [bytes((n,)) for n in range(0x80)]


def _piece(data: bytes) -> bytes:
    n = len(data)
    return (_SHORT[n] if n < 0x80 else varint(n)) + data


# The encoded form of strings met lately: a batch's accounts, organizations and names recur from one batch
# to the next. Bounded: cleared when it holds MAX_PIECES.
_PIECES: dict[str, bytes] = {}
MAX_PIECES = 16384


def string_column(values: Iterable[str]) -> bytes:
    """A Native String column. A value met lately is not encoded again."""
    values = values if isinstance(values, list) else list(values)
    try:
        return b"".join(map(_PIECES.__getitem__, values))
    except KeyError:
        pass
    get = _PIECES.get
    pieces = {value: get(value) or _piece(value.encode("utf-8", "replace")) for value in set(values)}
    if len(_PIECES) + len(pieces) > MAX_PIECES:
        _PIECES.clear()
    _PIECES.update(pieces)
    return b"".join(map(pieces.__getitem__, values))


def bytes_column(values: Iterable[bytes]) -> bytes:
    """A Native String column of values that are UTF-8 already."""
    short = _SHORT
    out: list[bytes] = []
    append = out.append
    for value in values:
        n = len(value)
        append(short[n] if n < 0x80 else varint(n))
        append(value)
    return b"".join(out)


def constant_string_column(value: str, rows: int) -> bytes:
    return _piece(value.encode("utf-8", "replace")) * rows


def datetime_column(seconds: Sequence[int]) -> bytes:
    """A Native DateTime column (UInt32 unix seconds)."""
    data = array("I", seconds)
    if not _LITTLE_ENDIAN:
        data.byteswap()
    return data.tobytes()


def constant_datetime_column(seconds: int, rows: int) -> bytes:
    return _UINT32.pack(seconds) * rows


def uuid_column(big_endian: bytes) -> bytes:
    """A Native UUID column from the concatenated 16-byte big-endian UUIDs (``UUID.bytes``).

    ClickHouse stores a UUID as two UInt64, the high half first, each little-endian: reversing each 8-byte
    group of the big-endian form gives exactly that.
    """
    halves = array("Q", big_endian)
    if _LITTLE_ENDIAN:
        halves.byteswap()
    return halves.tobytes()


def pack(rows: int, columns: Sequence[bytes]) -> bytes:
    """One spool blob from the Native columns of a batch, in EVENT_COLUMNS order."""
    if len(columns) != _COLUMNS:
        raise ValueError(f"a batch has {_COLUMNS} columns, got {len(columns)}")
    return _HEADER.pack(MAGIC, rows, *(len(c) for c in columns)) + b"".join(columns)


@dataclass(frozen=True)
class Block:
    """Rows of `events` as Native columns, in EVENT_COLUMNS order."""

    rows: int
    columns: list[bytes]

    def typed_columns(self) -> list[tuple[str, str, bytes]]:
        """(name, ClickHouse type, Native data) of each column."""
        return list(zip(EVENT_COLUMNS, EVENT_TYPES, self.columns, strict=True))

    def native(self) -> bytes:
        """The block in ClickHouse's Native format (``INSERT ... FORMAT Native``)."""
        parts = [varint(_COLUMNS), varint(self.rows)]
        for name, kind, data in self.typed_columns():
            parts += [_piece(name.encode()), _piece(kind.encode()), data]
        return b"".join(parts)


def combine(blobs: Iterable[bytes]) -> Block:
    """The rows of spool blobs, in order, as one block."""
    rows = 0
    parts: list[list[memoryview | bytes]] = [[] for _ in range(_COLUMNS)]
    for blob in blobs:
        if not blob:
            continue
        if blob[:4] != MAGIC:
            blob = from_json_lines(blob)
        _magic, count, *sizes = _HEADER.unpack_from(blob)
        view = memoryview(blob)
        offset = _HEADER.size
        for column, size in enumerate(sizes):
            parts[column].append(view[offset:offset + size])
            offset += size
        if offset != len(blob):
            raise ValueError("a spooled batch is truncated or has trailing bytes")
        rows += count
    return Block(rows, [b"".join(p) for p in parts])


# --- reading back (tests, and blobs from before the Native form) -------------------------------------------


def _read_strings(data: bytes, rows: int) -> list[str]:
    values = []
    offset = 0
    for _ in range(rows):
        shift = length = 0
        while True:
            byte = data[offset]
            offset += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        values.append(data[offset:offset + length].decode("utf-8"))
        offset += length
    if offset != len(data):
        raise ValueError("a String column has trailing bytes")
    return values


def rows_of(blob: bytes) -> list[dict[str, Any]]:
    """The rows of one spool blob as dicts (UUIDs as uuid.UUID, DateTime as unix seconds)."""
    block = combine([blob])
    n = block.rows
    columns: dict[str, list[Any]] = {}
    for name, kind, data in zip(EVENT_COLUMNS, EVENT_TYPES, block.columns, strict=True):
        if kind == "UUID":
            halves = struct.unpack(f"<{2 * n}Q", data)
            columns[name] = [uuid.UUID(int=halves[2 * i] << 64 | halves[2 * i + 1]) for i in range(n)]
        elif kind == "DateTime":
            columns[name] = list(struct.unpack(f"<{n}I", data))
        else:
            columns[name] = _read_strings(data, n)
    return [{name: columns[name][i] for name in EVENT_COLUMNS} for i in range(n)]


def from_json_lines(blob: bytes) -> bytes:
    """A blob of JSONEachRow lines (the spool's earlier form) in the Native form."""
    rows = [json.loads(line) for line in blob.splitlines() if line.strip()]
    columns: list[bytes] = []
    for name, kind in zip(EVENT_COLUMNS, EVENT_TYPES, strict=True):
        values = [row[name] for row in rows]
        if kind == "UUID":
            columns.append(uuid_column(b"".join(uuid.UUID(v).bytes for v in values)))
        elif kind == "DateTime":
            columns.append(datetime_column([min(max(int(v), 0), _UINT32_MAX) for v in values]))
        else:
            columns.append(string_column(values))
    return pack(len(rows), columns)

"""An INSERT whose data is written as one Native data packet from columns already in Native form.

clickhouse-driver builds a data block from Python values, several µs of Python per row; the spool holds the
columns of `events` in Native form already (``analytics.ingest.blocks``), so the packet is written from them as
they are. Query, sample block, end-of-data and the replies are the driver's own steps of an insert.

This is the one module that uses clickhouse-driver's internals (its packet writers and the steps of
``Client.insert``): ``incompatibilities()`` lists what a driver version lacks of them, and
tests/analytics/test_native.py fails with that list when the installed version changed them.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from analytics.clickhouse.engine import ClickHouseError

# What the insert below uses of the driver, module by module (a dotted name is an attribute of a class);
# written against clickhouse-driver 0.2. Attributes of a connected client's connection (``compression``,
# ``fout``, ``server_info``) show only on a connection: the server tests insert through this module.
INTERNALS: dict[str, tuple[str, ...]] = {
    "clickhouse_driver.defines": ("DBMS_MIN_REVISION_WITH_TEMPORARY_TABLES", "DBMS_MIN_REVISION_WITH_BLOCK_INFO",
                                  "DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION"),
    "clickhouse_driver.block": ("BlockInfo.write", "ColumnOrientedBlock"),
    "clickhouse_driver.protocol": ("ClientPacketTypes.DATA",),
    "clickhouse_driver.varint": ("write_varint",),
    "clickhouse_driver.writer": ("write_binary_str", "write_binary_uint8"),
    "clickhouse_driver.client": ("Client.disconnect_on_error", "Client.receive_sample_block",
                                 "Client.receive_profile_events", "Client.receive_end_of_insert_query"),
    "clickhouse_driver.connection": ("Connection.send_query", "Connection.send_external_tables",
                                     "Connection.send_data"),
}


def incompatibilities() -> list[str]:
    """What the installed clickhouse-driver lacks of the internals used here (empty when it has them all)."""
    missing = []
    for module_name, names in INTERNALS.items():
        try:
            module: Any = importlib.import_module(module_name)
        except ImportError as exc:
            missing.append(f"{module_name} ({exc})")
            continue
        for name in names:
            owner: Any = module
            for part in name.split("."):
                owner = getattr(owner, part, None)
            if owner is None:
                missing.append(f"{module_name}.{name}")
    return missing


def send_insert(client: Any, sql: str, rows: int, columns: Sequence[tuple[str, str, bytes]]) -> None:
    """Run ``sql`` (an ``INSERT ... VALUES``) on ``client`` with ``rows`` rows of (name, type, Native data)
    columns as its data, checked against the server's sample block first."""
    from clickhouse_driver import defines
    from clickhouse_driver.block import BlockInfo, ColumnOrientedBlock
    from clickhouse_driver.protocol import ClientPacketTypes
    from clickhouse_driver.varint import write_varint
    from clickhouse_driver.writer import write_binary_str, write_binary_uint8

    with client.disconnect_on_error(sql, None):
        connection = client.connection
        if connection.compression:
            raise ClickHouseError("Native inserts are written uncompressed; the connection compresses")
        connection.send_query(sql)
        connection.send_external_tables(None)
        sample = client.receive_sample_block()
        if sample is None:
            raise ClickHouseError("the server sent no sample block for the insert")
        expected = [(name, kind) for name, kind, _data in columns]
        if [(name, kind) for name, kind in sample.columns_with_types] != expected:
            raise ClickHouseError(f"the table has columns {sample.columns_with_types}, expected {expected}")
        revision = connection.server_info.used_revision
        out = connection.fout
        write_varint(ClientPacketTypes.DATA, out)
        if revision >= defines.DBMS_MIN_REVISION_WITH_TEMPORARY_TABLES:
            write_binary_str("", out)
        if revision >= defines.DBMS_MIN_REVISION_WITH_BLOCK_INFO:
            BlockInfo().write(out)
        write_varint(len(columns), out)
        write_varint(rows, out)
        for name, kind, data in columns:
            write_binary_str(name, out)
            write_binary_str(kind, out)
            if revision >= defines.DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION:
                write_binary_uint8(0, out)
            out.write(data)
        out.flush()
        client.receive_profile_events()
        connection.send_data(ColumnOrientedBlock())  # an empty block ends the data
        client.receive_profile_events()
        client.receive_end_of_insert_query()

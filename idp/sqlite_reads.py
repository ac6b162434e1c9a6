"""Answers of read-only statements on the embedded SQLite database, kept until the database changes.

``PRAGMA data_version`` on a connection changes whenever another connection, of this process or of another,
commits to the file. A connection that only reads (one per thread, its own) can therefore keep the answers it
got and give them again while data_version stays the same. A commit anywhere (a revoked token, a removed
membership, a disabled account) is seen by the next statement, as without the cache: the version is read
before the statement runs, so a commit between the two at worst drops answers that were already fresh.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

MAX_ANSWERS = 1024


class _PerThread(threading.local):
    db: Any = None
    version: int | None = None
    answers: dict[Hashable, tuple[list[Any], dict[Any, Any]]]

    def __init__(self) -> None:
        self.answers = {}


class CachedReads:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = _PerThread()

    def fetch(self, key: Hashable, sql: str, params: Sequence[Any]) -> tuple[list[Any], dict[Any, Any]]:
        """The rows of ``sql`` with ``params``, kept under ``key`` (which must determine them), and a dict in
        which the caller may keep what it derives from the rows: it is dropped with them."""
        local = self._local
        if local.db is None:
            connection = self._engine.raw_connection()
            connection.detach()  # this thread's for good, outside the pool
            local.db = connection
        db = local.db
        try:
            cursor = db.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                version = cursor.fetchone()[0]
                if version != local.version or len(local.answers) >= MAX_ANSWERS:
                    local.answers.clear()
                    local.version = version
                answer = local.answers.get(key)
                if answer is None:
                    cursor.execute(sql, params)
                    answer = local.answers[key] = (list(cursor.fetchall()), {})
            finally:
                cursor.close()
        except Exception:
            local.db = None
            local.answers.clear()
            db.close()
            raise
        return answer

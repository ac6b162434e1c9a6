"""Alembic environment: the accounts/OAuth schema and the alert state, on SQLite or PostgreSQL.

The URL comes from the caller (``canary migrate`` sets ``sqlalchemy.url``) or CANARY_DATABASE_URL.
"""

from __future__ import annotations

import contextlib
import importlib
import os

from alembic import context
from sqlalchemy import MetaData, engine_from_config, pool

import idp.accounts.models
import idp.mail.models
import idp.oauth.models  # noqa: F401  (registers tables)
from idp.db import Base

config = context.config
metadatas: list[MetaData] = [Base.metadata]
with contextlib.suppress(ImportError):  # the alert tables live in analytics, which owns its own MetaData
    metadatas.append(importlib.import_module("analytics.alerts.models").metadata)
target_metadata = metadatas


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("CANARY_DATABASE_URL", "")
    if not url:
        raise RuntimeError("no database URL: set CANARY_DATABASE_URL or use `canary migrate`")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config({"sqlalchemy.url": _url()}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

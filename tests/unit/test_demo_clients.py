"""`canary serve --demo` registers its resource-server client as a resource server, so that it may introspect
the tokens of the demo user it is given."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from idp.bootstrap import sql_sessions
from idp.cli.demo import demo
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.oauth.models import Client
from idp.settings import Settings


def _backend(settings: Settings, client_id: str) -> Client:
    with sql_sessions(settings) as factory, factory() as db:
        client = db.scalar(select(Client).where(Client.client_id == client_id))
        assert client is not None
        return client


def test_the_demo_resource_server_may_introspect(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    migrate_sql(settings)
    printed = demo(settings)["resource_server_client"]
    assert _backend(settings, printed["client_id"]).resource_server is True

    # A demo database from before, where the client was no resource server, is put right at the next start.
    with sql_sessions(settings) as factory, transaction(factory) as db:
        stored = db.scalar(select(Client).where(Client.client_id == printed["client_id"]))
        assert stored is not None
        stored.resource_server = False
    again = demo(settings)["resource_server_client"]
    assert again["client_id"] == printed["client_id"]
    assert _backend(settings, again["client_id"]).resource_server is True

"""Usage analytics: event ingest into ClickHouse and the queries over it. Never imports ``idp``."""

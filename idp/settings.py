"""One frozen Settings object, read from ``CANARY_*`` environment variables.

Every option is listed in ``OPTIONS`` with its default and meaning; the README's configuration table is
generated from the same list (``canary config``). Insecure choices are allowed only where they make sense for
local development, and they are logged as warnings.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("canary.settings")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Option:
    env: str
    default: str
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("CANARY_ISSUER", "", "Public base URL; the `iss` of every token. https in production. Empty = "
           "`http://localhost:PORT` when listening on a loopback or wildcard address, else `http://HOST:PORT`."),
    Option("CANARY_HOST", "127.0.0.1", "Address `canary serve` listens on."),
    Option("CANARY_PORT", "8000", "Port `canary serve` listens on."),
    Option("CANARY_WORKERS", "1", "Serving processes, each with its own listening socket on Linux; more than 1 "
           "needs a ClickHouse server (CANARY_ANALYTICS_URL), and PostgreSQL is advised (SQLite writers of "
           "different processes wait on each other's locks)."),
    Option("CANARY_DATA_DIR", "./canary-data", "SQLite file, embedded ClickHouse (chDB) data and the event spool."),
    Option("CANARY_DATABASE_URL", "", "SQLAlchemy URL of the accounts database; empty = SQLite in the data dir. "
           "PostgreSQL: `postgresql+psycopg://user:pass@host/db` (the psycopg driver ships with Canary)."),
    Option("CANARY_ANALYTICS_URL", "", "`clickhouse+native://user:pass@host:9000/db`; empty = embedded chDB. "
           "`?alt_hosts=host2:9000,host3:9000` names more servers to connect to when the first is down."),
    Option("CANARY_ANALYTICS_CLUSTER", "", "Name of the ClickHouse cluster (`remote_servers`) the events live on: "
           "replicated tables sharded by account behind Distributed tables, schema changes ON CLUSTER "
           "(docs/cluster.md). Empty = one server. Needs CANARY_ANALYTICS_URL."),
    Option("CANARY_ANALYTICS_INSERT_QUORUM", "0", "On a cluster, replicas of a shard that must have written an "
           "insert before it is acknowledged (`insert_quorum`); 0 = off. N needs N replicas of every shard up."),
    Option("CANARY_ACCESS_TOKEN_TTL", "900", "Access token lifetime, seconds."),
    Option("CANARY_ID_TOKEN_TTL", "3600", "ID token lifetime, seconds."),
    Option("CANARY_REFRESH_TOKEN_TTL", "2592000", "Refresh token lifetime, seconds (30 days)."),
    Option("CANARY_CODE_TTL", "60", "Authorization code lifetime, seconds (at most 60)."),
    Option("CANARY_SESSION_TTL", "1209600", "Login session lifetime, seconds (14 days)."),
    Option("CANARY_SIGNING_ALG", "RS256", "Signs access tokens: RS256 or ES256 (cheaper to sign). ID tokens use each "
           "client's algorithm (RS256 unless registered otherwise)."),
    Option("CANARY_CACHE_SECONDS", "5", "How long a process trusts the clients it has read for the token and "
           "authorization endpoints; a change made in the same process applies at once, one made by another "
           "(the CLI, another worker) within this. 0 = no caching."),
    Option("CANARY_KEY_ENCRYPTION_KEY", "", "Secret (32+ characters) that encrypts the private signing keys in "
           "the database (AES-256-GCM); empty = stored unencrypted. Setting it encrypts existing keys at start."),
    Option("CANARY_FORWARDED_ALLOW_IPS", "", "Comma-separated addresses of reverse proxies whose X-Forwarded-For "
           "and X-Forwarded-Proto headers `canary serve` trusts (`*` = any); empty = those headers are ignored. "
           "They set the client address seen by the access log and the per-address sign-in, sign-up and reset "
           "limits (the proxy must set, not append to, X-Forwarded-For); URLs come from CANARY_ISSUER."),
    Option("CANARY_MAX_BODY_BYTES", "1048576", "Largest request body accepted, bytes."),
    Option("CANARY_LOGIN_MAX_FAILURES", "5", "Failed passwords before an account is locked."),
    Option("CANARY_LOGIN_LOCK_SECONDS", "900", "How long a locked account stays locked."),
    Option("CANARY_EVENT_RETENTION_DAYS", "400", "Events older than this are rejected and their partitions dropped "
           "(1 to 36500)."),
    Option("CANARY_USAGE_ROLLUP_INTERVAL", "300", "Seconds between rollups of the daily usage counts that top "
           "events read; days changed since are counted live, so this trades query time for ClickHouse work."),
    Option("CANARY_SPOOL_MAX_BYTES", "536870912", "Unflushed events kept locally while ClickHouse is away."),
    Option("CANARY_ANALYTICS_FLUSH_SECONDS", "5", "Longest wait between the spool's inserts into ClickHouse "
           "(a full batch goes at once): events are queryable about this long after they are accepted. Every "
           "insert has a fixed cost (embedded chDB: ~50 ms of CPU), so a shorter wait costs CPU under light, "
           "steady traffic. 0.1 to 60."),
    Option("CANARY_DEMO", "0", "1 = `canary serve` creates a demo client and user and prints them."),
    Option("CANARY_ALLOW_INSECURE_HTTP", "0", "1 = allow a plain-http issuer on a non-localhost host (never do)."),
    Option("CANARY_LOG_LEVEL", "info", "Log level: debug, info, warning, error or critical."),
    Option("CANARY_ALERT_INTERVAL", "30", "Seconds between inactivity detector runs inside `canary serve`."),
    Option("CANARY_WEBHOOK_TIMEOUT", "10", "Seconds a webhook receiver has to connect, read or answer before the "
           "attempt fails and is retried."),
    Option("CANARY_ALERT_CLAIM_SECONDS", "120", "Seconds a node sending a notification keeps it from the other "
           "nodes and workers; if it dies meanwhile, another sends it after this. More than CANARY_WEBHOOK_TIMEOUT."),
    Option("CANARY_SMTP_HOST", "", "SMTP server for all mail (alerts, sign-up, reset and invitation links); "
           "empty = messages are written to the development outbox in the data dir."),
    Option("CANARY_SMTP_PORT", "587", "SMTP port."),
    Option("CANARY_SMTP_USERNAME", "", "SMTP user name."),
    Option("CANARY_SMTP_PASSWORD", "", "SMTP password."),
    Option("CANARY_SMTP_TLS", "starttls", "starttls, ssl or none."),
    Option("CANARY_SMTP_FROM", "canary@localhost", "From address of notification emails."),
    # early warning of churn: each account's rhythm (docs/early-warning.md)
    Option("CANARY_CHURN_HISTORY_DAYS", "120", "Days of activity (28 to 120) an account's rhythm is learned from."),
    Option("CANARY_CHURN_MIN_ACTIVE_DAYS", "2", "Fewer active days in that history are no rhythm yet."),
    Option("CANARY_CHURN_MIN_HISTORY_DAYS", "21", "A first active day more recent than this is no rhythm yet."),
    Option("CANARY_CHURN_RECENT_DAYS", "14", "The recent period whose activity rate is compared with the baseline."),
    Option("CANARY_CHURN_WEEKDAY_SHARE", "0.9", "Share of active days on Monday to Friday above which an account "
           "keeps to weekdays (weekends are not counted as silence)."),
    Option("CANARY_CHURN_GAP_QUANTILE", "0.85", "Which of an account's gaps between active days is its high gap."),
    Option("CANARY_CHURN_QUIET_FACTOR", "4.5", "Going quiet: silent for this many high gaps."),
    Option("CANARY_CHURN_RARE_SILENCE", "0.0001", "Going quiet also: a silence this unlikely at the account's rate of "
           "active days."),
    Option("CANARY_CHURN_MIN_QUIET_DAYS", "5", "Going quiet takes at least this many days (weekdays)."),
    Option("CANARY_CHURN_MAX_QUIET_DAYS", "90", "Going quiet takes at most this many days (weekdays)."),
    Option("CANARY_CHURN_SLOWING_RATIO", "0.5", "Slowing: recent rate at most this share of the baseline rate."),
    Option("CANARY_CHURN_SLOWING_MIN_DAYS", "4", "Slowing is judged for accounts expected active this many days of "
           "the recent period."),
    Option("CANARY_CHURN_INACTIVE_DAYS", "14", "The fixed threshold: inactive after this many days, rhythm or not."),
    Option("CANARY_CHURN_DECLINE_FRACTION", "0.3", "An organization is declining when this week's share of active "
           "members is down by this fraction from the four weeks before."),
    # Security: throttling and webhook addresses (docs/security.md)
    Option("CANARY_SIGNIN_ADDRESS_LIMIT", "20", "Sign-in attempts that did not succeed allowed per client address "
           "per CANARY_THROTTLE_WINDOW on the login form; more are answered 429 with Retry-After. 0 = no limit."),
    Option("CANARY_SIGNIN_ACCOUNT_LIMIT", "10", "Sign-in attempts that did not succeed allowed per e-mail address "
           "(known or not) per CANARY_THROTTLE_WINDOW; more are answered 429. 0 = no limit."),
    Option("CANARY_CLIENT_AUTH_LIMIT", "20", "Failed client authentications allowed per client address and per "
           "client_id per CANARY_THROTTLE_WINDOW at /token and /introspect; more are answered 429. 0 = no limit."),
    Option("CANARY_THROTTLE_WINDOW", "300", "Sliding window of the limits above, seconds. Counters live in the "
           "accounts database, shared by every worker and node."),
    Option("CANARY_WEBHOOK_ALLOW_PRIVATE", "0", "1 = webhook endpoints may be loopback, private, link-local or "
           "otherwise internal addresses. A development switch: never in production."),
    # accounts: mail, sign-up, passwords, invitations
    Option("CANARY_PRODUCT_NAME", "Canary", "The product's name as people see it: in the subject and body of "
           "every e-mail and on the account pages."),
    Option("CANARY_SIGNUP", "off", "Self sign-up: `off`, `open`, or `domains:example.com,example.org` (only "
           "addresses at those domains)."),
    Option("CANARY_PASSWORD_MIN_LENGTH", "10", "Shortest password accepted wherever a password is set."),
    Option("CANARY_INVITATION_TTL", "604800", "How long an invitation link works, seconds (7 days)."),
    # operations: metrics
    Option("CANARY_METRICS_TOKEN", "", "Bearer token that opens `/metrics` from any address; empty = only the "
           "addresses of CANARY_METRICS_ALLOW_IPS."),
    Option("CANARY_METRICS_ALLOW_IPS", "127.0.0.1,::1", "Comma-separated addresses or networks (CIDR, e.g. "
           "10.0.0.0/8) allowed to read `/metrics` without the token (empty = none)."),
)

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
MAX_RETENTION_DAYS = 36500
"""A hundred years: the retention cut-off (today minus this) must stay a date ClickHouse can hold."""
MAX_PORT = 65535
MAX_WORKERS = 64


def options_table() -> str:
    """The README's configuration table (``canary config``)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{o.env}` | {f'`{o.default}`' if o.default else '(empty)'} | {o.help} |" for o in OPTIONS]
    return "\n".join(rows)


def _int(env: Mapping[str, str], name: str, minimum: int = 0, maximum: int | None = None) -> int:
    raw = _get(env, name)
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if maximum is None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    if value < minimum or (maximum is not None and value > maximum):
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str) -> float:
    raw = _get(env, name)
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


def listening_issuer(host: str, port: int) -> str:
    """The issuer of a provider listening on ``host``:``port`` (``localhost`` for loopback and wildcard hosts)."""
    if host in _LOCAL_HOSTS or host in _WILDCARD_HOSTS or host.startswith("127."):
        name = "localhost"
    else:
        name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{port}"


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """A warning for each ``CANARY_*`` variable that is not a setting, with the closest setting's name."""
    import difflib

    known = [o.env for o in OPTIONS]
    found = []
    for name in sorted(env):
        if name.startswith("CANARY_") and name not in known and not name.startswith(_NOT_SETTINGS):
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            found.append(f"{name} is not a Canary setting and is ignored{hint}")
    return found


# Variables of the CANARY_ family that are not settings: test and tool configuration.
_NOT_SETTINGS = ("CANARY_TEST_", "CANARY_BENCH_", "CANARY_MIGRATIONS")


def _get(env: Mapping[str, str], name: str) -> str:
    for option in OPTIONS:
        if option.env == name:
            return env.get(name, option.default)
    raise KeyError(name)


def _without_password(url: str) -> str:
    """A database URL as an error may show it: any password replaced by ``***``."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return _get(env, name).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    issuer: str = "http://localhost:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    data_dir: Path = field(default_factory=lambda: Path("./canary-data"))
    database_url: str = ""
    analytics_url: str | None = None
    analytics_cluster: str | None = None
    analytics_insert_quorum: int = 0
    access_token_ttl: int = 900
    id_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 86400
    code_ttl: int = 60
    session_ttl: int = 14 * 86400
    signing_alg: str = "RS256"
    max_body_bytes: int = 1024 * 1024
    forwarded_allow_ips: str = ""
    cache_seconds: int = 5
    login_max_failures: int = 5
    login_lock_seconds: int = 900
    event_retention_days: int = 400
    spool_max_bytes: int = 512 * 1024 * 1024
    analytics_flush_seconds: float = 5.0
    usage_rollup_interval: int = 300
    demo: bool = False
    allow_insecure_http: bool = False
    log_level: str = "info"
    alert_interval: int = 30
    webhook_timeout: int = 10
    alert_claim_seconds: int = 120
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    key_encryption_key: str = field(default="", repr=False)
    smtp_tls: str = "starttls"
    smtp_from: str = "canary@localhost"
    churn_history_days: int = 120
    churn_min_active_days: int = 2
    churn_min_history_days: int = 21
    churn_recent_days: int = 14
    churn_weekday_share: float = 0.9
    churn_gap_quantile: float = 0.85
    churn_quiet_factor: float = 4.5
    churn_rare_silence: float = 0.0001
    churn_min_quiet_days: int = 5
    churn_max_quiet_days: int = 90
    churn_slowing_ratio: float = 0.5
    churn_slowing_min_days: int = 4
    churn_inactive_days: int = 14
    churn_decline_fraction: float = 0.3
    signin_address_limit: int = 20
    signin_account_limit: int = 10
    client_auth_limit: int = 20
    throttle_window: int = 300
    webhook_allow_private: bool = False
    product_name: str = "Canary"
    signup: str = "off"
    password_min_length: int = 10
    invitation_ttl: int = 7 * 86400
    # operations: metrics, and whether CANARY_ISSUER was given or follows the listening address
    metrics_token: str = field(default="", repr=False)
    metrics_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    issuer_given: bool = True

    def __post_init__(self) -> None:
        issuer = self.issuer.rstrip("/")
        object.__setattr__(self, "issuer", issuer)
        try:
            parts = urlsplit(issuer)
            parts.port  # noqa: B018 - refuses a port that is not a number or out of range
        except ValueError as error:
            raise SettingsError(f"CANARY_ISSUER is not a valid URL ({error}), got {self.issuer!r}") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise SettingsError(f"CANARY_ISSUER must be an absolute http(s) URL, got {self.issuer!r}")
        if parts.query or parts.fragment:
            raise SettingsError("CANARY_ISSUER must not have a query or fragment")
        if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS and not self.allow_insecure_http:
            if not self.issuer_given:
                raise SettingsError(f"canary listens on {self.host}, not a loopback address: set CANARY_ISSUER "
                                    "to the https URL that clients reach it at")
            raise SettingsError(
                "CANARY_ISSUER uses plain http on a non-local host; use https "
                "(or CANARY_ALLOW_INSECURE_HTTP=1 for a throwaway test setup)"
            )
        if not 0 <= self.port <= MAX_PORT:
            raise SettingsError(f"the port must be between 0 and {MAX_PORT}, got {self.port}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(f"the number of workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        if not 1 <= self.event_retention_days <= MAX_RETENTION_DAYS:
            raise SettingsError(f"CANARY_EVENT_RETENTION_DAYS must be between 1 and {MAX_RETENTION_DAYS}, got "
                                f"{self.event_retention_days}")
        if self.signing_alg not in {"RS256", "ES256"}:
            raise SettingsError(f"CANARY_SIGNING_ALG must be RS256 or ES256, got {self.signing_alg!r}")
        if not 1 <= self.code_ttl <= 60:
            raise SettingsError("CANARY_CODE_TTL must be between 1 and 60 seconds")
        if self.key_encryption_key and len(self.key_encryption_key) < 32:
            raise SettingsError("CANARY_KEY_ENCRYPTION_KEY must have at least 32 characters")
        if not 0.1 <= self.analytics_flush_seconds <= 60:
            raise SettingsError(f"CANARY_ANALYTICS_FLUSH_SECONDS must be between 0.1 and 60, got "
                                f"{self.analytics_flush_seconds}")
        if self.throttle_window < 1:
            raise SettingsError("CANARY_THROTTLE_WINDOW must be at least 1 second")
        if self.alert_claim_seconds <= self.webhook_timeout:
            raise SettingsError("CANARY_ALERT_CLAIM_SECONDS must be more than CANARY_WEBHOOK_TIMEOUT: a notification "
                                "still being sent would be sent again by another node")
        if self.smtp_tls not in {"starttls", "ssl", "none"}:
            raise SettingsError("CANARY_SMTP_TLS must be starttls, ssl or none")
        for entry in self.metrics_allow_ips:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(f"CANARY_METRICS_ALLOW_IPS: {entry!r} is not an IP address or network "
                                    "(e.g. 10.0.0.5 or 10.0.0.0/8)") from None
        if self.log_level.lower() not in LOG_LEVELS:
            raise SettingsError(f"CANARY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        self._check_churn()
        if self.analytics_cluster is not None:
            if not _CLUSTER_NAME.fullmatch(self.analytics_cluster):
                raise SettingsError("CANARY_ANALYTICS_CLUSTER must be a cluster name of letters, digits and _")
            if not self.analytics_url:
                raise SettingsError("CANARY_ANALYTICS_CLUSTER needs CANARY_ANALYTICS_URL (a server of the cluster)")
        if self.signup != "off" and self.signup != "open" and not self.signup_domains:
            raise SettingsError("CANARY_SIGNUP must be off, open or domains:example.com,... with at least one domain")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{(self.data_dir / 'canary.db').resolve()}")

    def check_database_url(self) -> None:
        """SettingsError unless SQLAlchemy can open ``database_url``: a URL it parses, naming a dialect and a
        driver that are installed. Apart from the checks at construction, which stay free of SQLAlchemy (it
        takes a noticeable part of a second to import); commands that open the database call it first."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(self.database_url)
            url.port  # noqa: B018 - a port that is not a number
            url.get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError) as error:  # before ArgumentError, its base
            raise SettingsError(f"CANARY_DATABASE_URL names a database or driver that is not installed ({error}); "
                                "for PostgreSQL use postgresql+psycopg://… (the psycopg driver ships with "
                                "Canary)") from None
        except (ArgumentError, ValueError):
            raise SettingsError("CANARY_DATABASE_URL is not a database URL (e.g. postgresql+psycopg://user:pass@"
                                "host/db), got " + repr(_without_password(self.database_url))) from None

    def churn_parameters(self) -> dict[str, int | float]:
        """The parameters of `analytics.queries.ChurnModel`, by name."""
        prefix = "churn_"
        return {name[len(prefix):]: getattr(self, name) for name in self.__dataclass_fields__
                if name.startswith(prefix) and name != "churn_decline_fraction"}

    def _check_churn(self) -> None:
        from analytics.queries import ChurnModel, QueryError

        try:
            ChurnModel(**self.churn_parameters())  # type: ignore[arg-type]
        except QueryError as error:
            raise SettingsError(f"CANARY_CHURN_{error.field.upper()} {error.message}") from error
        if not 0 < self.churn_decline_fraction < 1:
            raise SettingsError("CANARY_CHURN_DECLINE_FRACTION must be between 0 and 1")

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def signup_domains(self) -> tuple[str, ...]:
        """The domains of ``CANARY_SIGNUP=domains:...``, lowercased; empty for ``off`` and ``open``."""
        if not self.signup.startswith("domains:"):
            return ()
        return tuple(d.strip().lower() for d in self.signup[len("domains:"):].split(",") if d.strip())

    @property
    def outbox_dir(self) -> Path:
        """Where mail goes as ``.eml`` files when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    def warnings(self) -> list[str]:
        found = []
        if not self.secure_cookies:
            found.append(
                f"issuer {self.issuer} is plain http: fine for local development only; "
                "cookies are not marked Secure"
            )
        if self.secure_cookies and not self.key_encryption_key:
            found.append("private signing keys are stored unencrypted: set CANARY_KEY_ENCRYPTION_KEY")
        if self.webhook_allow_private:
            found.append("CANARY_WEBHOOK_ALLOW_PRIVATE=1: webhooks may reach internal addresses (development only)")
        if self.demo:
            found.append("demo mode: a demo client and user with a printed password exist")
        listening = listening_issuer(self.host, self.port)
        parts = urlsplit(self.issuer)
        issuer_port = parts.port or (443 if parts.scheme == "https" else 80)
        if self.issuer_given and parts.hostname in _LOCAL_HOSTS and issuer_port != self.port:
            # A public issuer is taken to be a reverse proxy in front; a local one must be where Canary listens.
            found.append(f"CANARY_ISSUER is {self.issuer} but canary listens on {self.host}:{self.port} "
                         f"({listening}): discovery and tokens point elsewhere")
        return found

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "issuer": _get(env, "CANARY_ISSUER"),
            "issuer_given": bool(_get(env, "CANARY_ISSUER").strip()),
            "host": _get(env, "CANARY_HOST"),
            "port": _int(env, "CANARY_PORT", 0, MAX_PORT),
            "workers": _int(env, "CANARY_WORKERS", 1, MAX_WORKERS),
            "data_dir": Path(_get(env, "CANARY_DATA_DIR")),
            "database_url": _get(env, "CANARY_DATABASE_URL"),
            "analytics_url": _get(env, "CANARY_ANALYTICS_URL") or None,
            "analytics_cluster": _get(env, "CANARY_ANALYTICS_CLUSTER").strip() or None,
            "analytics_insert_quorum": _int(env, "CANARY_ANALYTICS_INSERT_QUORUM", 0, 16),
            "access_token_ttl": _int(env, "CANARY_ACCESS_TOKEN_TTL", 30),
            "id_token_ttl": _int(env, "CANARY_ID_TOKEN_TTL", 30),
            "refresh_token_ttl": _int(env, "CANARY_REFRESH_TOKEN_TTL", 60),
            "code_ttl": _int(env, "CANARY_CODE_TTL", 1, 60),
            "session_ttl": _int(env, "CANARY_SESSION_TTL", 60),
            "signing_alg": _get(env, "CANARY_SIGNING_ALG"),
            "max_body_bytes": _int(env, "CANARY_MAX_BODY_BYTES", 1024),
            "forwarded_allow_ips": _get(env, "CANARY_FORWARDED_ALLOW_IPS").strip(),
            "cache_seconds": _int(env, "CANARY_CACHE_SECONDS", 0, 300),
            "login_max_failures": _int(env, "CANARY_LOGIN_MAX_FAILURES", 1),
            "login_lock_seconds": _int(env, "CANARY_LOGIN_LOCK_SECONDS", 1),
            "event_retention_days": _int(env, "CANARY_EVENT_RETENTION_DAYS", 1, MAX_RETENTION_DAYS),
            "spool_max_bytes": _int(env, "CANARY_SPOOL_MAX_BYTES", 1024 * 1024),
            "analytics_flush_seconds": _float(env, "CANARY_ANALYTICS_FLUSH_SECONDS"),
            "usage_rollup_interval": _int(env, "CANARY_USAGE_ROLLUP_INTERVAL", 10),
            "demo": _flag(env, "CANARY_DEMO"),
            "allow_insecure_http": _flag(env, "CANARY_ALLOW_INSECURE_HTTP"),
            "log_level": _get(env, "CANARY_LOG_LEVEL"),
            "alert_interval": _int(env, "CANARY_ALERT_INTERVAL", 1),
            "webhook_timeout": _int(env, "CANARY_WEBHOOK_TIMEOUT", 1, 300),
            "alert_claim_seconds": _int(env, "CANARY_ALERT_CLAIM_SECONDS", 2),
            "smtp_host": _get(env, "CANARY_SMTP_HOST"),
            "smtp_port": _int(env, "CANARY_SMTP_PORT", 1, 65535),
            "smtp_username": _get(env, "CANARY_SMTP_USERNAME"),
            "smtp_password": _get(env, "CANARY_SMTP_PASSWORD"),
            "key_encryption_key": _get(env, "CANARY_KEY_ENCRYPTION_KEY"),
            "smtp_tls": _get(env, "CANARY_SMTP_TLS"),
            "smtp_from": _get(env, "CANARY_SMTP_FROM"),
            "churn_history_days": _int(env, "CANARY_CHURN_HISTORY_DAYS"),
            "churn_min_active_days": _int(env, "CANARY_CHURN_MIN_ACTIVE_DAYS"),
            "churn_min_history_days": _int(env, "CANARY_CHURN_MIN_HISTORY_DAYS"),
            "churn_recent_days": _int(env, "CANARY_CHURN_RECENT_DAYS"),
            "churn_weekday_share": _float(env, "CANARY_CHURN_WEEKDAY_SHARE"),
            "churn_gap_quantile": _float(env, "CANARY_CHURN_GAP_QUANTILE"),
            "churn_quiet_factor": _float(env, "CANARY_CHURN_QUIET_FACTOR"),
            "churn_rare_silence": _float(env, "CANARY_CHURN_RARE_SILENCE"),
            "churn_min_quiet_days": _int(env, "CANARY_CHURN_MIN_QUIET_DAYS"),
            "churn_max_quiet_days": _int(env, "CANARY_CHURN_MAX_QUIET_DAYS"),
            "churn_slowing_ratio": _float(env, "CANARY_CHURN_SLOWING_RATIO"),
            "churn_slowing_min_days": _int(env, "CANARY_CHURN_SLOWING_MIN_DAYS"),
            "churn_inactive_days": _int(env, "CANARY_CHURN_INACTIVE_DAYS"),
            "churn_decline_fraction": _float(env, "CANARY_CHURN_DECLINE_FRACTION"),
            "signin_address_limit": _int(env, "CANARY_SIGNIN_ADDRESS_LIMIT", 0),
            "signin_account_limit": _int(env, "CANARY_SIGNIN_ACCOUNT_LIMIT", 0),
            "client_auth_limit": _int(env, "CANARY_CLIENT_AUTH_LIMIT", 0),
            "throttle_window": _int(env, "CANARY_THROTTLE_WINDOW", 1, 86400),
            "webhook_allow_private": _flag(env, "CANARY_WEBHOOK_ALLOW_PRIVATE"),
            "product_name": _get(env, "CANARY_PRODUCT_NAME").strip() or "Canary",
            "signup": _get(env, "CANARY_SIGNUP").strip().lower(),
            "password_min_length": _int(env, "CANARY_PASSWORD_MIN_LENGTH", 8, 128),
            "invitation_ttl": _int(env, "CANARY_INVITATION_TTL", 300),
            "metrics_token": _get(env, "CANARY_METRICS_TOKEN").strip(),
            "metrics_allow_ips": tuple(a.strip() for a in _get(env, "CANARY_METRICS_ALLOW_IPS").split(",")
                                       if a.strip()),
        }
        values.update(overrides)
        if not values["issuer_given"]:
            values["issuer"] = listening_issuer(str(values["host"]), int(values["port"]))  # type: ignore[call-overload]
        return cls(**values)  # type: ignore[arg-type]

"""What `canary serve` hands uvicorn: X-Forwarded-* headers are trusted only from configured proxies."""

from __future__ import annotations

import argparse

from idp.cli.serve import server_options
from idp.http_protocol import CanaryHttpProtocol
from idp.settings import Settings


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured() -> None:
    args = argparse.Namespace(access_log=False)
    plain = server_options(Settings.from_env({}), args)
    assert plain["proxy_headers"] is False and plain["forwarded_allow_ips"] is None
    assert plain["http"] is CanaryHttpProtocol
    proxied = server_options(Settings.from_env({"CANARY_FORWARDED_ALLOW_IPS": " 10.0.0.5,10.0.0.6 "}), args)
    assert proxied["proxy_headers"] is True and proxied["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"

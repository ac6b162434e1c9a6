"""Second factors: authenticator apps (TOTP, RFC 6238) with recovery codes, passkeys (WebAuthn), the levels
they give a sign-in (``amr``/``acr``), organizations' policy, and the ceremonies in progress.

Endpoints, the CLI and the admin API call these modules; none re-implements their rules.
"""

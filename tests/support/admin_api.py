"""The admin API as an operator's script calls it: an admin client's `client_credentials` token, JSON in and out."""

from __future__ import annotations

from typing import Any

import httpx


class AdminApi:
    """The admin API with a new admin client's token."""

    def __init__(self, provider: Any) -> None:  # a tests.functional.conftest.Provider
        client_id, secret = provider.client(name="ops", grant_types=["client_credentials"], admin=True,
                                            scope="admin")
        token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                           auth=(client_id, secret or "")).json()["access_token"]
        self.http = httpx.Client(base_url=f"{provider.url}/admin/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The answer's JSON (None for an empty body), after checking its status."""
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def member(self, org: str, email: str) -> dict[str, Any] | None:
        """The organization's member (or invitee) with this address, as the members list shows them."""
        members = self.call("GET", f"/organizations/{org}/members")["items"]
        return next((m for m in members if m["email"] == email), None)

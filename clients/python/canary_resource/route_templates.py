"""The template of the route a Starlette/FastAPI request matched, the templates of its mounts included.

Starlette's router leaves the innermost matched route in ``scope["route"]`` and the outermost router in
``scope["router"]``; the mounts in between are not kept. They are found again in the router's tree of
routes (``Mount.routes``), by the route object, and the template is their ``path`` templates joined with the
route's: ``Mount("/orgs/{org_id:uuid}")`` over ``Route("/items/{item}")`` is ``/orgs/{org_id:uuid}/items/{item}``,
whatever values the request's path holds. The chains are kept per route; a route reached through more than
one mount (one sub-application mounted at ``/v1`` and ``/v2``) is placed by matching the request against
each chain's mounts, as the router did.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

MAX_DEPTH = 16  # mounts within mounts
MAX_KEPT = 10_000  # (router, route) pairs remembered

Chain = tuple[Any, ...]  # the mounts from the middleware's app down to the route, outermost first
Entry = tuple[Any, str, dict[str, Any] | None]  # route, root_path, path_params when the middleware was called


class RouteTemplates:
    def __init__(self) -> None:
        # By the ids of (router, outer mount, route) — Starlette's routes compare by value and are unhashable —
        # with the objects themselves, which keeps them alive and their ids theirs.
        self._chains: dict[tuple[int, int, int], tuple[Any, Any, Any, list[tuple[Chain, str]]]] = {}

    def template(self, scope: MutableMapping[str, Any], entry: Entry) -> str | None:
        """The template of ``scope``'s matched route below the middleware, or None when no route matched.

        ``entry``: the scope's ``route``, ``root_path`` and ``path_params`` as the middleware received them.
        When the middleware is itself inside a mount (``outer``), the template starts below that mount.
        """
        route, router, outer = scope.get("route"), scope.get("router"), entry[0]
        kept = self._chains.get((id(router), id(outer), id(route)))
        if kept is not None and kept[0] is router and kept[1] is outer and kept[2] is route:
            chains = kept[3]
        else:
            chains = self._place(router, outer, route)
        if len(chains) == 1:
            return chains[0][1]
        for chain, template in chains:
            if _matches(chain, scope, entry):
                return template
        return None

    def _place(self, router: Any, outer: Any, route: Any) -> list[tuple[Chain, str]]:
        """The chains of mounts from ``router`` (below ``outer``) to ``route``, with their templates: none
        when no route matched (``route`` is the mount the middleware sits in, or a mount whose own router
        matched nothing)."""
        path = getattr(route, "path", None)
        if not isinstance(path, str) or route is outer or _routes(route):
            chains: list[tuple[Chain, str]] = []
        elif router is None:
            chains = [((), path)]
        else:
            chains = [(chain, "".join(str(getattr(m, "path", "")) for m in chain) + path)
                      for chain in _below(_chains_to(_routes(router), route, ()), outer)]
        if len(self._chains) < MAX_KEPT:
            self._chains[(id(router), id(outer), id(route))] = (router, outer, route, chains)
        return chains


def _routes(app: Any) -> Sequence[Any]:
    """The routes of a router, of a mount's app, or of an app wrapped in middleware (``.app``)."""
    for _ in range(MAX_DEPTH):
        routes = getattr(app, "routes", None)
        if routes:
            return list(routes)
        app = getattr(app, "app", None)
        if app is None:
            break
    return []


def _chains_to(routes: Sequence[Any], target: Any, chain: Chain) -> list[Chain]:
    found: list[Chain] = []
    for candidate in routes:
        if candidate is target:
            found.append(chain)
        elif len(chain) < MAX_DEPTH:
            inner = _routes(candidate)
            if inner:
                found.extend(_chains_to(inner, target, (*chain, candidate)))
    return found


def _below(chains: list[Chain], outer: Any) -> list[Chain]:
    """The chains cut below ``outer``, the mount the middleware sits in (None: the middleware is on top)."""
    if outer is None:
        return chains
    cut = []
    for chain in chains:
        at = next((i for i, mount in enumerate(chain) if mount is outer), None)
        if at is not None:
            cut.append(chain[at + 1:])
    return cut


def _matches(chain: Chain, scope: MutableMapping[str, Any], entry: Entry) -> bool:
    """Whether each mount of ``chain`` in turn matches the request, as the router matched it."""
    child: dict[str, Any] = {**scope, "root_path": entry[1], "path_params": dict(entry[2] or {})}
    for mount in chain:
        match, child_scope = mount.matches(child)
        if getattr(match, "name", None) != "FULL":
            return False
        child.update(child_scope)
    return True

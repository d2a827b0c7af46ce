"""The OpenAPI document is built from the request models, and the server keeps to it under
schemathesis (positive and negative cases, every role): 0 server errors, 0 failed checks."""

from __future__ import annotations

from typing import Any

from live.domain.access import PUBLIC, ROUTES
from live.domain.ballot import VoteIn
from live.web.schemas import StageIn
from loadtest.chaos import api
from loadtest.chaos.access import cli_env, invite, sign_in
from loadtest.target import LiveTarget
from tests.helpers import SHOW, LiveServer

HTML_PAGES = {"/", "/s/{show}", "/overlay/{show}", "/results/{show}/{category}", "/admin/{show}",
              "/judge/{show}", "/moderate/{show}", "/openapi.json", "/s/{show}/c/{contestant}",
              "/s/{show}/c/{contestant}/poster.png",
              "/s/{show}/c/{contestant}/photo.webp", "/admin/{show}/setup",
              "/metrics", "/api/identity/wechat/start", "/api/identity/wechat/callback",
              "/api/identity/oidc/start", "/api/identity/oidc/callback"}  # fmt: skip


async def document(server: LiveServer) -> dict[str, Any]:
    async with server.client() as http:
        reply = await http.get("/openapi.json")
    assert reply.status_code == 200
    return dict(reply.json())


async def test_request_schemas_are_the_validating_models(server: LiveServer) -> None:
    doc = await document(server)
    schemas = doc["components"]["schemas"]
    vote = doc["paths"]["/api/shows/{show}/votes"]["post"]["requestBody"]["content"]
    ref = vote["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[ref]["properties"] == VoteIn.model_json_schema()["properties"]
    assert schemas[ref]["additionalProperties"] is False
    assert (
        schemas["StageIn"]["properties"]["seconds"]
        == (StageIn.model_json_schema()["properties"]["seconds"])
    )


async def test_every_json_route_is_documented(server: LiveServer) -> None:
    doc = await document(server)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routes = set(ROUTES) | set(PUBLIC)
    assert {r for r in routes if r[1] not in HTML_PAGES} == documented


async def test_schemathesis_finds_no_server_error_and_no_failed_check() -> None:
    # A `live serve` process of its own: schemathesis' thousands of requests go 8x faster
    # than against a server sharing the test's event loop.
    with LiveTarget(SHOW) as target:
        env = cli_env(target.data_dir, SHOW)
        staff = [
            await sign_in(target.url, "t", invite("t", role, f"{role} one", env))
            for role in ("admin", "judge", "moderator")
        ]
        figures = await api.run(target.url, "t", staff, max_examples=2)
    print("\n" + figures.line())
    assert figures.requests > 2000
    assert figures.server_errors == 0
    assert figures.failures == []
    assert figures.statuses[200] > 0 and figures.statuses[400] > 0

"""The OpenAPI 3.1 document of the JSON API, served at ``GET /openapi.json``. Pure.

Request bodies are the JSON Schemas of the very pydantic models the routes validate with
(:class:`live.domain.ballot.VoteIn`, :class:`live.web.schemas.StageIn`, ...), so the document cannot
drift from what the server accepts. Path parameters list the ids the server has loaded. Every
operation documents its error answers with the one error body of :mod:`live.domain.errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from live.domain.access import ROUTES
from live.domain.identity import PhoneStartIn, PhoneVerifyIn
from live.domain.show import Show
from live.web.schemas import (
    ApprovalIn,
    CommentIn,
    CommentOpIn,
    ContestantEdit,
    CorrectionIn,
    DanmakuIn,
    DefinitionIn,
    DisplayIn,
    LikeIn,
    ModerationIn,
    PreviewIn,
    PublishIn,
    RulesEdit,
    RulesPreviewIn,
    RunningOrder,
    SheetIn,
    ShowIn,
    StaffIn,
    StageIn,
    VoteIn,
    WordListIn,
)

REF = "#/components/schemas/{model}"
OBJECT: dict[str, Any] = {"type": "object"}
Auth = Literal["public", "device", "staff"]


class VoteOut(BaseModel):
    """The answer to a vote: ``accepted`` (200), ``duplicate``/``closed`` (409), ``limited``
    (429, with ``retry_after`` and the ``Retry-After`` header)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["accepted", "duplicate", "closed", "limited"]
    reason: str
    vote_id: str
    version: int


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: its request model, who may call it, and what it answers."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    auth: Auth = "public"
    ok: int = 200
    ok_schema: str | None = None
    errors: tuple[int, ...] = (400, 404)
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    form: bool = False


_VERSION_Q = ("version", {"type": "string", "pattern": "^[0-9]{1,9}$"})
_FORMAT_Q = ("format", {"type": "string", "enum": ["json", "csv"]})

OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/healthz", "Liveness: 200 while the process answers", errors=()),
    Op(
        "GET",
        "/readyz",
        "Readiness: 200 while Redis answers, every task is up and the process is not draining; "
        "else 503 (draining, unavailable, degraded)",
        errors=(),
    ),
    Op("GET", "/api/shows/{show}", "The current public snapshot"),
    Op(
        "POST",
        "/api/shows/{show}/votes",
        "Cast a vote (idempotent on vote_id)",
        VoteIn,
        "device",
        ok_schema="VoteOut",
        errors=(400, 401, 403, 404, 409, 413, 429),
    ),
    Op(
        "POST",
        "/api/shows/{show}/likes",
        "Send +n like taps",
        LikeIn,
        "device",
        ok=202,
        errors=(400, 401, 403, 404, 413, 429),
    ),
    Op(
        "GET",
        "/api/shows/{show}/me",
        "This device's votes per category: cap, used, left",
        auth="device",
        errors=(401, 404),
    ),
    Op("GET", "/api/shows/{show}/staff-state", "The staff snapshot", auth="staff"),
    Op(
        "GET",
        "/api/identity",
        "This device's verified identities (masked) and the tiers this server offers",
        errors=(401,),
    ),
    Op(
        "POST",
        "/api/identity/phone/start",
        "Send a 6-digit code to a phone (E.164; +86 when no country code): limited per number "
        "(1/min, 5/h, 10/day), address and device (429 send_limited, Retry-After); 403 "
        "captcha_required when a captcha is configured",
        PhoneStartIn,
        "device",
        errors=(400, 401, 403, 413, 429, 502),
    ),
    Op(
        "POST",
        "/api/identity/phone/verify",
        "Check the code (5 minutes, 5 attempts) and bind the device to the number "
        "(the live_identity cookie); 400 code_invalid with attempts_left, 410 code_expired",
        PhoneVerifyIn,
        "device",
        errors=(400, 401, 403, 410, 413),
    ),
    Op(
        "POST",
        "/api/shows/{show}/contestants/{contestant}/photo",
        "Upload a contestant's photo: the body is a JPEG, PNG or WebP image (at most 8 MB), "
        "re-encoded as WebP without metadata; only before the show starts",
        auth="staff",
        errors=(400, 401, 403, 404, 409, 413),
    ),
    Op(
        "POST",
        "/api/shows",
        "Create a show (an admin of the show in the session); answers a one-time login link "
        "making the creator its admin",
        ShowIn,
        "staff",
        ok=201,
        errors=(400, 401, 403, 409, 413),
    ),
    Op(
        "GET",
        "/api/shows/{show}/definition",
        "The show as its show file: the document, its TOML, its revision, whether it can change",
        auth="staff",
        query=(("format", {"type": "string", "enum": ["json", "toml"]}),),
    ),
    Op(
        "POST",
        "/api/shows/{show}/definition",
        "Replace the whole show (JSON {rev, show}, or a TOML show file with ?rev=) while it "
        "waits; 400 show_invalid lists every problem",
        DefinitionIn,
        "staff",
        errors=(400, 401, 403, 404, 409, 413),
        query=(("rev", {"type": "string", "maxLength": 40}),),
    ),
    Op(
        "POST",
        "/api/shows/{show}/roster",
        "Replace the contestants by a sheet (the body: XLSX or CSV; ?name= its file name, ?rev=); "
        "400 show_invalid lists every bad row and column, and nothing is imported",
        auth="staff",
        errors=(400, 401, 403, 404, 409, 413),
        query=(
            ("name", {"type": "string", "maxLength": 200}),
            ("rev", {"type": "string", "maxLength": 40}),
        ),
    ),
    Op(
        "POST",
        "/api/shows/{show}/rules-preview",
        "A category's rules applied to a fixed sample evening (made-up votes and marks)",
        RulesPreviewIn,
        "staff",
    ),
    Op("GET", "/api/shows/{show}/staff", "The show's staff members", auth="staff"),
    Op(
        "GET",
        "/api/shows/{show}/activity",
        "Votes per minute per category and like taps per minute since voting first opened",
        auth="staff",
    ),
    Op(
        "GET",
        "/api/shows/{show}/ingest",
        "Each platform source's state in this process (connected, lag, duplicates, bad "
        "signatures) and what each platform's events added",
        auth="staff",
    ),
    Op(
        "POST",
        "/ingest/douyin/{show}",
        "Douyin live data push (a JSON array of messages; x-nonce-str, x-timestamp, x-roomid, "
        "x-msg-type, x-signature): 401 bad_signature counts nothing; 200 at once, counted "
        "right after",
        errors=(400, 401, 404, 413, 503),
    ),
    Op(
        "POST",
        "/api/shows/{show}/staff",
        "Invite (answers a one-time login link), change a role, or revoke",
        StaffIn,
        "staff",
        ok=201,
        errors=(400, 401, 403, 404),
    ),
    Op("POST", "/api/shows/{show}/stage", "Move the stage", StageIn, "staff"),
    Op("POST", "/api/shows/{show}/display", "Reveal, hide, freeze", DisplayIn, "staff"),
    Op(
        "POST",
        "/api/shows/{show}/categories/{category}/rules",
        "Edit a category's rules before voting starts",
        RulesEdit,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/contestants/{contestant}",
        "Edit a contestant's details before the show starts",
        ContestantEdit,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/running-order",
        "Set the running order before the show starts",
        RunningOrder,
        "staff",
    ),
    Op("GET", "/api/shows/{show}/overlay-key", "The overlay URL", auth="staff"),
    Op("POST", "/api/shows/{show}/overlay-key", "Rotate the overlay key", auth="staff"),
    Op("GET", "/api/shows/{show}/sheets/{category}", "The judge's sheets", auth="staff"),
    Op(
        "POST",
        "/api/shows/{show}/sheets/{category}/{contestant}",
        "Change the judge's own sheet",
        SheetIn,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/approvals/{category}/{contestant}",
        "The judge's approve/reject",
        ApprovalIn,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/corrections/{category}/{contestant}",
        "Correct a submitted sheet (admin)",
        CorrectionIn,
        "staff",
    ),
    Op("GET", "/api/shows/{show}/results/{category}", "The provisional result", auth="staff"),
    Op(
        "POST",
        "/api/shows/{show}/results/{category}/preview",
        "What-if result under changed rules",
        PreviewIn,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/results/{category}/publish",
        "Publish the result as a new version",
        PublishIn,
        "staff",
    ),
    Op(
        "GET",
        "/api/shows/{show}/published/{category}",
        "The latest (or ?version=n) published result; ?format=csv",
        query=(_VERSION_Q, _FORMAT_Q),
    ),
    Op("GET", "/api/shows/{show}/flags", "The fraud flag queue", auth="staff"),
    Op(
        "POST",
        "/api/shows/{show}/comments",
        "Post a comment (idempotent on comment_id): its state for the sender (pending, "
        "approved, rejected with the filter's reason, dropped: the same text again); 403 "
        "comment_banned, 429 comment_limited (Retry-After)",
        CommentIn,
        "device",
        errors=(400, 401, 403, 404, 413, 429),
    ),
    Op(
        "GET",
        "/api/shows/{show}/comments",
        "Comments in one state (pending: oldest first, the queue; approved, rejected: newest "
        "first) and the counts",
        auth="staff",
        query=(
            ("state", {"type": "string", "enum": ["pending", "approved", "rejected"]}),
            ("limit", {"type": "string", "pattern": "^[0-9]{1,3}$"}),
        ),
    ),
    Op(
        "POST",
        "/api/shows/{show}/comments/{id}",
        "Approve, reject, or ban (reject and refuse the device's comments for the show)",
        CommentOpIn,
        "staff",
    ),
    Op("GET", "/api/shows/{show}/wordlist", "The word lists and the admins' edits", auth="staff"),
    Op(
        "POST",
        "/api/shows/{show}/wordlist",
        "Edit the word lists (add, remove, allow, disallow): applied to the next comment",
        WordListIn,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/danmaku",
        "The overlay's danmaku layer: on/off, density, pin or unpin an approved comment",
        DanmakuIn,
        "staff",
    ),
    Op(
        "POST",
        "/api/shows/{show}/voids/preview",
        "What a void or restore would change",
        ModerationIn,
        "staff",
    ),
    Op("POST", "/api/shows/{show}/voids", "Void or restore votes", ModerationIn, "staff"),
    Op("GET", "/api/shows/{show}/moderation-log", "Every void and restore", auth="staff"),
    Op(
        "GET",
        "/staff/login",
        "The page behind a one-time login link: a button that posts the token",
        query=(
            ("show", {"type": "string"}),
            ("token", {"type": "string", "maxLength": 100}),
        ),
        ok_schema="html",
    ),
    Op(
        "POST",
        "/staff/login",
        "Use a one-time staff login link (form: show, token)",
        auth="public",
        ok=303,
        form=True,
    ),
    Op("POST", "/staff/logout", "End this staff session", auth="staff"),
)

ERROR_TEXT = {
    400: "Malformed input (bad JSON, wrong types, unknown fields, out of range)",
    401: "No device cookie / no staff session / the category needs a verified identity "
    "(identity_required, naming it)",
    403: "The role may not, a wrong CSRF token, or a request from another site",
    404: "No such show, category, contestant or publication",
    409: "The state does not allow it now (stage, frozen rules, a locked sheet, a closed vote)",
    410: "The phone code expired, was used, or its attempts are spent: ask for a new one",
    413: "The body is too large",
    429: "Too many requests; see Retry-After",
    502: "The SMS, captcha or sign-in provider failed or refused; try again later",
}
SHED = {
    503: "Redis did not answer within its budget, or the server is shedding load; see Retry-After"
}
STAFF_ERRORS = (400, 401, 403, 404, 409, 413)


def _error_body() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }


def _params(path: str, ids: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for name in ("show", "category", "contestant", "id"):
        if "{" + name + "}" in path:
            schema: dict[str, Any] = {"type": "string"}
            if ids.get(name):
                schema["enum"] = ids[name]
            out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _operation(op: Op, ids: dict[str, list[str]], schemas: dict[str, Any]) -> dict[str, Any]:
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    errors = STAFF_ERRORS if op.auth == "staff" and op.method == "POST" else op.errors
    if op.auth == "staff" and op.method == "GET":
        errors = (400, 401, 403, 404, 409)
    responses: dict[str, Any] = {}
    if op.ok == 303:
        responses["303"] = {"description": "Signed in: the session cookie and the role's page"}
    elif op.ok_schema == "html":
        responses["200"] = {
            "description": "OK",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    else:
        ok_ref = {"$ref": REF.format(model=op.ok_schema)} if op.ok_schema else OBJECT
        content: dict[str, Any] = {"application/json": {"schema": ok_ref}}
        for name, schema in op.query:
            for kind in ("csv", "toml"):  # ?format= picks another representation
                if name == "format" and kind in schema.get("enum", ()):
                    content[f"{'text' if kind == 'csv' else 'application'}/{kind}"] = {
                        "schema": {"type": "string"}
                    }
        responses[str(op.ok)] = {"description": "OK", "content": content}
    if op.ok_schema == "VoteOut":
        vote = {"application/json": {"schema": {"$ref": REF.format(model="VoteOut")}}}
        responses["409"] = {"description": "duplicate or closed", "content": vote}
        responses["429"] = {
            "description": "limited; see Retry-After",
            "headers": {"Retry-After": {"schema": {"type": "string"}}},
            "content": vote,
        }
    for status in (*errors, 405, *SHED):
        key = str(status)
        if key not in responses:
            text = SHED.get(status) or ERROR_TEXT.get(status, "Method not allowed")
            responses[key] = {"description": text, "content": json_error}
    body: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method.lower() + re.sub(r"[/{}]+", "_", op.path).rstrip("_"),
        "parameters": [
            *_params(op.path, ids),
            *({"name": n, "in": "query", "required": False, "schema": s} for n, s in op.query),
        ],
        "responses": responses,
    }
    if op.body is not None:
        body["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[op.body.__name__]}},
        }
    elif op.form:
        body["requestBody"] = {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["show", "token"],
                        "properties": {
                            "show": {"type": "string", "enum": ids.get("show") or []},
                            "token": {"type": "string", "maxLength": 100},
                        },
                    }
                }
            },
        }
    if op.auth == "device":
        body["security"] = [{"device": []}]
    elif op.auth == "staff":
        roles = sorted(ROUTES[(op.method, op.path)])
        body["description"] = "Roles: " + ", ".join(roles)
        body["security"] = [{"staff": [], "csrf": []}] if op.method == "POST" else [{"staff": []}]
    return body


def document(shows: dict[str, Show], version: str) -> dict[str, Any]:
    """The OpenAPI document for the loaded ``shows``."""
    models = {op.body for op in OPERATIONS if op.body is not None} | {VoteOut}
    keymap, top = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF
    )
    components = dict(top.get("$defs", {}))
    schemas = {m.__name__: keymap[(m, "validation")] for m in models}
    components["Error"] = _error_body()
    ids = {
        "show": sorted(shows),
        "category": sorted({c.id for s in shows.values() for c in s.categories}),
        "contestant": sorted({c.id for s in shows.values() for c in s.contestants}),
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, ids, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "live",
            "version": version,
            "description": "Live-streamed award events: votes, likes, staging, judging, "
            'moderation. Errors: {"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "device": {"type": "apiKey", "in": "cookie", "name": "live_device"},
                "staff": {"type": "apiKey", "in": "cookie", "name": "live_staff"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }

"""Engagement ingestion: one snapshot, a JSON array, or an NDJSON stream."""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import QueryParameter
from msgspec import Meta

from marketscout.domain.model import User
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput
from marketscout.domain.usecases.pipeline import ingest_and_refresh
from marketscout.entrypoints.api.bodies import (
    NOT_JSON,
    NOT_UTF8,
    SURROGATE_RULE,
    describe,
    is_json,
    lone_surrogate,
    media_type,
    read_pairs,
    surrogate_field,
    unsupported,
)
from marketscout.entrypoints.schemas import EngagementIn, IngestOut, RejectedItem

NDJSON = "application/x-ndjson"


def ingest_body(max_items: int) -> dict[str, Any]:
    """What ``POST /engagement`` takes, by content type, for the OpenAPI document: one snapshot or
    a batch as JSON, or NDJSON (described as the array of its lines)."""
    batch = Annotated[list[EngagementIn], Meta(min_length=1, max_length=max_items)]
    lines = Annotated[
        list[EngagementIn],
        Meta(min_length=1, max_length=max_items, description="One EngagementIn object a line"),
    ]
    return {"application/json": EngagementIn | batch, NDJSON: lines}


def ingest_body_description(max_items: int) -> str:
    return (
        f"One EngagementIn object, a JSON array of 1 to {max_items} of them, or NDJSON (one a line, "
        "Content-Type: application/x-ndjson). Each item is checked on its own: an invalid one is "
        "named in the answer's `rejected` and the others are stored, unless all_or_nothing=true."
    )


def _rejection(index: int, error: msgspec.ValidationError) -> Rejection:
    field, rule = describe(error, EngagementIn)
    return Rejection(index, "item" if field == "body" else field, rule)


_ITEM = msgspec.json.Decoder(EngagementIn)
# A JSON body as it is written, and an array's items so: well-formed, and nothing converted yet
# (a number no float holds, 1e999, is its item's problem, told by that item's rules).
_WRITTEN = msgspec.json.Decoder(msgspec.Raw)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


def _parse_item(index: int, written: bytes | msgspec.Raw) -> SnapshotInput | Rejection:
    """One item decoded straight into its schema: one pass, no intermediate dict."""
    try:
        return to_snapshot_input(_ITEM.decode(written))
    except msgspec.ValidationError as error:
        return _rejection(index, error)
    except UnicodeDecodeError:
        return Rejection(index, "item", "is not valid UTF-8")
    except (msgspec.DecodeError, RecursionError):
        if field := lone_surrogate(bytes(written)):
            return Rejection(index, "item" if field == "body" else field, SURROGATE_RULE)
        return Rejection(index, "item", "is not valid JSON")


def _rewritten(raw: bytes) -> list[bytes] | None:
    """The items of a JSON body msgspec refused because a string holds a lone surrogate escape
    (its reader of unparsed items says only that the input was truncated), each written again
    with its escapes, so that each is judged on its own; None when no string holds one (the body
    is malformed). Read only on that refusal, by the standard library (which reads the escape)."""
    if b"\\u" not in raw:
        return None
    document = read_pairs(raw)
    if surrogate_field(document) is None:
        return None
    try:
        return [
            json.dumps(item).encode() for item in (document if isinstance(document, list) else [document])
        ]
    except RecursionError:
        return None


def parse_items(raw: bytes, content_type: str, max_items: int) -> list[SnapshotInput | Rejection]:
    """Parses each item on its own, so one bad item does not lose the good ones."""
    if content_type == NDJSON:
        documents: list[bytes] | list[msgspec.Raw] = [line for line in raw.splitlines() if line.strip()]
    else:
        try:
            raw.decode()  # an item left unread (Raw) is not checked for UTF-8: check every byte
            body = _WRITTEN.decode(raw)
            documents = _ITEMS.decode(body) if memoryview(body)[:1].tobytes() == b"[" else [body]
        except UnicodeDecodeError:
            raise NOT_UTF8 from None
        except (msgspec.DecodeError, RecursionError):
            if (rewritten := _rewritten(raw)) is None:
                raise NOT_JSON from None
            documents = rewritten
    if len(documents) > max_items:
        raise HTTPException(status_code=413, detail=f"At most {max_items} snapshots per request")
    return [_parse_item(index, document) for index, document in enumerate(documents)]


def to_snapshot_input(parsed: EngagementIn) -> SnapshotInput:
    return SnapshotInput(
        observed_at=parsed.observed_at,
        region=parsed.region,
        views=parsed.views,
        likes=parsed.likes,
        comments=parsed.comments,
        shares=parsed.shares,
        ad_id=parsed.ad_id,
        platform=parsed.platform,
        external_id=parsed.external_id,
    )


class EngagementController(Controller):
    path = "/engagement"
    tags = ["engagement"]

    @post(
        "/",
        status_code=200,
        summary="Ingest engagement snapshots",
        description=(
            "Body: one EngagementIn object, a JSON array of them, or NDJSON (Content-Type: "
            "application/x-ndjson), at most MARKETSCOUT_MAX_INGEST_ITEMS items. Idempotent on (ad, region, "
            "observed_at). Invalid items are reported in `rejected` and the valid ones stored, unless "
            "`all_or_nothing=true`, in which case any invalid item stores nothing and answers 422."
        ),
    )
    async def ingest(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        all_or_nothing: Annotated[
            bool, QueryParameter(description="Store nothing if any item is invalid")
        ] = False,
    ) -> IngestOut:
        raw = await request.body()
        content_type = media_type(request)
        if raw and content_type != NDJSON and not is_json(content_type):
            raise unsupported("application/json or application/x-ndjson")
        max_items: int = request.app.state.max_ingest_items
        items = parse_items(raw, content_type, max_items)
        if not items:
            raise ValidationException(extra=[{"key": "body", "message": "must hold at least one snapshot"}])
        report = await ingest_and_refresh(uow, clock, items, all_or_nothing=all_or_nothing, sender=user.id)
        return IngestOut(
            received=report.received,
            stored=report.stored,
            duplicates=report.duplicates,
            rejected=[RejectedItem(index=r.index, field=r.field, rule=r.reason) for r in report.rejected],
        )

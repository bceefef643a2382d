"""Segment-spec message schema (pydantic v2).  Models are built once at import; each message
is validated on its own so one bad message never sinks its batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.types import MESSAGE_TYPES


def _id_string(v: Any) -> Any:
    # Segment libraries may send numeric ids; store them as their decimal text.
    if isinstance(v, bool):
        raise ValueError("must be a string")
    if isinstance(v, int):
        return str(v)
    return v


Id = Annotated[str, BeforeValidator(_id_string), Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(max_length=8192)]


# a timestamp as the message fields take it (ISO 8601 or Unix seconds/milliseconds): a batch's sentAt
DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def utc(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    if v.tzinfo is None:  # Segment treats a zone-less ISO timestamp as UTC
        return v.replace(tzinfo=UTC)
    try:
        return v.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+04:00 is before year 1 in UTC
        raise ValueError("out of range once converted to UTC") from None


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: Text | None = None
    path: Text | None = None
    referrer: Text | None = None
    title: Text | None = None
    search: Text | None = None


class Library(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Annotated[str, Field(max_length=100)] | None = None
    version: Annotated[str, Field(max_length=50)] | None = None


class Consent(BaseModel):
    model_config = ConfigDict(extra="allow")
    analytics: Literal["granted", "denied", "pending"] | None = None
    # Segment's consent management (analytics.js's consent wrappers): category -> consented.
    categoryPreferences: dict[str, StrictBool] | None = None


class Campaign(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Text | None = None
    source: Text | None = None
    medium: Text | None = None
    term: Text | None = None
    content: Text | None = None


class Context(BaseModel):
    model_config = ConfigDict(extra="allow")
    page: Page | None = None
    campaign: Campaign | None = None
    userAgent: Text | None = None
    ip: Annotated[str, Field(max_length=64)] | None = None
    locale: Annotated[str, Field(max_length=64)] | None = None
    library: Library | None = None
    consent: Consent | None = None
    sessionId: Id | None = None
    seq: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None
    pageViewId: Id | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["track", "page", "screen", "identify", "group", "alias"]
    messageId: Id | None = None
    anonymousId: Id | None = None
    userId: Id | None = None
    previousId: Id | None = None
    groupId: Id | None = None
    event: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    name: Annotated[str, Field(max_length=255)] | None = None
    category: Annotated[str, Field(max_length=255)] | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    receivedAt: Any = None  # clients may not set it; see _no_received_at
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: Context | None = None
    integrations: dict[str, Any] | None = None

    _utc_fields = field_validator("timestamp", "originalTimestamp", "sentAt")(utc)

    def _cookieless(self) -> bool:
        """A cookieless ping: the tag's page/track under denied consent carries no ids
        (accepted only for sites with aggregate_when_denied; see step_source_rules)."""
        return (self.type in ("page", "track", "screen") and self.context is not None
                and self.context.consent is not None and self.context.consent.analytics == "denied")

    @model_validator(mode="after")
    def _per_type_rules(self) -> Message:
        if self.receivedAt is not None:
            raise _FieldError("receivedAt", "is set by the collector, not by senders")
        t = self.type
        if t == "track" and not self.event:
            raise _FieldError("event", "track messages need a non-empty event name")
        if t == "alias":
            if not self.userId:
                raise _FieldError("userId", "alias needs userId (the new id)")
            if not self.previousId:
                raise _FieldError("previousId", "alias needs previousId (the old id)")
        elif t == "group" and not self.groupId:
            raise _FieldError("groupId", "group messages need a groupId")
        elif not self.userId and not self.anonymousId and not self._cookieless():
            raise _FieldError("userId", "every message needs userId or anonymousId")
        return self


class _FieldError(ValueError):
    """Raised inside a model validator to name the field at fault."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith(("function-", "nullable"))))


def validate_message(raw: Any) -> tuple[Message | None, str, str]:
    """Returns (message, "", "") or (None, field, reason)."""
    if not isinstance(raw, dict):
        return None, "", "a message must be a JSON object"
    if raw.get("type") not in MESSAGE_TYPES:
        t = raw.get("type")
        reason = "missing" if t is None else f"{str(t)[:40]!r} is not one of {', '.join(MESSAGE_TYPES)}"
        return None, "type", reason
    try:
        return Message.model_validate(raw), "", ""
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _FieldError):
            return None, inner.field, inner.reason
        return None, _loc(err["loc"]), _reason(err)


def _json_type(v: Any) -> str:
    """A value's type as the sender wrote it in JSON."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "an array" if isinstance(v, list) else "an object"


# pydantic's error types in the words of the JSON the sender wrote ("dictionary" is Python's)
_EXPECTED = {"dict_type": "a JSON object", "model_type": "a JSON object", "string_type": "a string",
             "bool_type": "true or false", "int_type": "an integer", "int_parsing": "an integer",
             "int_from_float": "an integer", "float_type": "a number", "float_parsing": "a number"}


def _reason(err: Any) -> str:
    """A validation error as a reason for the sender: what the field must be, what it got."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {_json_type(got)}"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in ("string_too_long", "too_long"):
        n = ctx.get("actual_length") or (len(got) if isinstance(got, str) else None)
        return f"longer than {ctx.get('max_length')} characters" + (f" ({n})" if n else "")
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        return f"must be {'at least' if kind == 'greater_than_equal' else 'at most'} {bound}, not {got!r}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, not {str(got)[:40]!r}"
    if kind.startswith(("datetime_", "date_")):
        return f"must be an ISO 8601 date-time such as 2024-05-01T12:00:00Z ({err['msg'].split(', ', 1)[-1]})"
    msg = err["msg"]
    return msg[len("Value error, "):] if msg.startswith("Value error, ") else msg

"""One verdict per message, naming the field at fault."""

import pytest

from collector.validate.schema import validate_message

OK = {"anonymousId": "a1"}


@pytest.mark.parametrize("msg", [
    {"type": "track", "event": "Order Completed", **OK},
    {"type": "page", "name": "Home", **OK},
    {"type": "screen", "name": "Home", "userId": "u1"},
    {"type": "identify", "userId": "u1", "traits": {"email": "x@y.z"}},
    {"type": "group", "groupId": "g1", **OK},
    {"type": "alias", "userId": "u2", "previousId": "u1"},
])
def test_every_message_type_is_accepted(msg):
    m, field, reason = validate_message(msg)
    assert m is not None and (field, reason) == ("", "")


@pytest.mark.parametrize("msg,field", [
    ({"type": "track", **OK}, "event"),
    ({"type": "track", "event": "", **OK}, "event"),
    ({"type": "alias", "userId": "u2"}, "previousId"),
    ({"type": "alias", "previousId": "u1"}, "userId"),
    ({"type": "group", **OK}, "groupId"),
    ({"type": "page"}, "userId"),
    ({"type": "launch", **OK}, "type"),
    ({**OK}, "type"),
    ({"type": "track", "event": "x", "timestamp": "yesterday", **OK}, "timestamp"),
    ({"type": "track", "event": "x", "properties": [1, 2], **OK}, "properties"),
    ({"type": "track", "event": "x", "context": {"seq": -1}, **OK}, "context.seq"),
    ({"type": "track", "event": "x", "context": {"consent": {"analytics": "maybe"}}, **OK},
     "context.consent.analytics"),
    ({"type": "track", "event": "x", "anonymousId": True}, "anonymousId"),
    ({"type": "track", "event": "x", "receivedAt": "2026-01-01T00:00:00Z", **OK}, "receivedAt"),
])
def test_rejections_name_the_field(msg, field):
    m, got_field, reason = validate_message(msg)
    assert m is None
    assert got_field == field
    assert reason


def test_numeric_ids_become_strings_and_naive_times_are_utc():
    m, _, _ = validate_message({"type": "track", "event": "x", "userId": 42, "timestamp": "2026-11-23T10:00:00"})
    assert m.userId == "42"
    assert m.timestamp.utcoffset().total_seconds() == 0


def test_not_an_object():
    assert validate_message([1])[2] == "a message must be a JSON object"


@pytest.mark.parametrize("msg,field,reason", [
    # JSON's words, not Python's ("dictionary"), with what the sender wrote
    ({"type": "track", "event": "x", "properties": [1, 2], **OK}, "properties", "must be a JSON object, not an array"),
    ({"type": "track", "event": "x", "context": "web", **OK}, "context", "must be a JSON object, not a string"),
    ({"type": "track", "event": "x", "userId": 1.5}, "userId", "must be a string, not a number"),
    ({"type": "track", "event": "x", "context": {"seq": "seventh"}, **OK}, "context.seq",
     "must be an integer, not a string"),
    ({"type": "track", "event": "x", "context": {"consent": {"categoryPreferences": {"Ads": 1}}}, **OK},
     "context.consent.categoryPreferences.Ads", "must be true or false, not a number"),
    # an empty or overlong id says so in characters (not "at least 1 item after validation")
    ({"type": "track", "event": "x", "userId": "", **OK}, "userId", "must not be empty"),
    ({"type": "track", "event": "x", "messageId": "", **OK}, "messageId", "must not be empty"),
    ({"type": "track", "event": "x", "userId": "u" * 300}, "userId", "longer than 255 characters (300)"),
    ({"type": "track", "event": "e" * 256, **OK}, "event", "longer than 255 characters (256)"),
    ({"type": "track", "event": "x", "context": {"seq": -1}, **OK}, "context.seq", "must be at least 0, not -1"),
    ({"type": "track", "event": "x", "context": {"consent": {"analytics": "yes"}}, **OK},
     "context.consent.analytics", "must be one of 'granted', 'denied' or 'pending', not 'yes'"),
])
def test_rejection_reasons_speak_json(msg, field, reason):
    assert validate_message(msg) == (None, field, reason)


def test_a_bad_timestamp_shows_the_expected_form():
    _, field, reason = validate_message({"type": "track", "event": "x", "timestamp": "yesterday", **OK})
    assert field == "timestamp"
    assert reason.startswith("must be an ISO 8601 date-time such as 2024-05-01T12:00:00Z (")

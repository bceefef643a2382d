import pytest

from collector.validate.limits import LimitError, Limits, check_message

L = Limits(max_message_bytes=1000, max_depth=3, max_keys=10, max_string=50)


def test_within_limits():
    check_message({"type": "track", "properties": {"a": {"b": [1, 2]}}}, L, body_small=False)


@pytest.mark.parametrize("msg,field,words", [
    ({"properties": {"a": {"b": {"c": {"d": 1}}}}}, "properties.a.b.c", "nested deeper"),
    ({"properties": {f"k{i}": i for i in range(11)}}, "properties", "more than 10 keys"),
    ({"properties": {"s": "x" * 51}}, "properties.s", "longer than 50"),
    ({"event": "x" * 51}, "event", "longer than 50"),
    ({"properties": {str(i): "x" * 50 for i in range(9)}, "traits": {str(i): "y" * 50 for i in range(9)},
      "context": {str(i): "z" * 50 for i in range(9)}}, "", "larger than 1000 bytes"),
])
def test_each_limit_names_the_field(msg, field, words):
    with pytest.raises(LimitError) as e:
        check_message(msg, L, body_small=False)
    assert e.value.field == field
    assert words in e.value.reason


def test_size_check_skipped_when_whole_body_is_small():
    big = {"traits": {str(i): "y" * 40 for i in range(9)}, "context": {str(i): "z" * 40 for i in range(9)}}
    check_message(big, L, body_small=True)  # the caller knows the body is under the limit

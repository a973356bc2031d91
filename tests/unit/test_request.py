import math

import pytest
from starlette.datastructures import QueryParams

from runyard.api.request import Message
from runyard.errors import InvalidParameterValue


def test_snake_and_camel_case_names_are_both_accepted() -> None:
    assert Message({"experiment_id": "1"}).text("experiment_id") == "1"
    assert Message({"experimentId": "1"}).text("experiment_id") == "1"


def test_both_spellings_at_once_are_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="both 'experiment_id' and 'experimentId'"):
        Message({"experiment_id": "1", "experimentId": "2"}).text("experiment_id")


def test_int64_accepts_numbers_and_numeric_strings() -> None:
    msg = Message({"a": 5, "b": "6", "c": 7.0, "d": "x", "e": 2**64, "f": True})
    assert (msg.integer("a"), msg.integer("b"), msg.integer("c")) == (5, 6, 7)
    for bad in ("d", "e", "f"):
        with pytest.raises(InvalidParameterValue, match="Hint: Value was of type"):
            msg.integer(bad)


def test_doubles_accept_proto_json_specials() -> None:
    msg = Message({"n": "NaN", "p": "Infinity", "m": "-Infinity", "x": 1})
    assert math.isnan(msg.number("n") or 0.0)
    assert msg.number("p") == math.inf and msg.number("m") == -math.inf
    assert msg.number("x") == 1.0


def test_required_and_type_messages_are_mlflows() -> None:
    with pytest.raises(InvalidParameterValue) as info:
        Message({}).req_text("name")
    assert info.value.message == (
        "Missing value for required parameter 'name'. See the API docs for more information "
        "about request parameters."
    )
    with pytest.raises(InvalidParameterValue) as info:
        Message({"name": 5}).req_text("name")
    assert info.value.message == (
        "Invalid value 5 for parameter 'name' supplied:  Hint: Value was of type 'int'. "
        "See the API docs for more information about request parameters."
    )


def test_query_strings_carry_repeated_fields() -> None:
    msg = Message({}, QueryParams("run_ids=a&run_ids=b&metric_key=m"))
    assert msg.texts("run_ids") == ["a", "b"]
    assert msg.text("metric_key") == "m"


def test_enums_by_name_or_number() -> None:
    views = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
    assert Message({"v": "ALL"}).enum("v", views, "ACTIVE_ONLY") == "ALL"
    assert Message({"v": 2}).enum("v", views, "ACTIVE_ONLY") == "DELETED_ONLY"
    assert Message({}).enum("v", views, "ACTIVE_ONLY") == "ACTIVE_ONLY"
    # like MLflow, an unknown value is ignored and the default applies
    for odd in ("SOME", "²", "9", 0, True):
        assert Message({"v": odd}).enum("v", views, "ACTIVE_ONLY") == "ACTIVE_ONLY"


def test_nested_messages_must_be_objects() -> None:
    assert [m.text("key") for m in Message({"tags": [{"key": "a"}]}).messages("tags")] == ["a"]
    with pytest.raises(InvalidParameterValue):
        Message({"tags": ["a"]}).messages("tags")
    with pytest.raises(InvalidParameterValue):
        Message({"tags": {"key": "a"}}).messages("tags")

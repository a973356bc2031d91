"""MLflow 3's prompt registry through ``mlflow.genai`` and ``MlflowClient``, on every backend.

A prompt is a registered model tagged ``mlflow.prompt.is_prompt=true`` whose versions carry the
template in their tags; the client builds all of it from the registry's ordinary calls. Expected
answers were taken from ``mlflow server`` 3.17.2 (``RUNYARD_TEST_REFERENCE=mlflow``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities.model_registry import PromptVersion
from mlflow.exceptions import MlflowException
from pydantic import BaseModel

pytestmark = [
    pytest.mark.integration,
    # The client warns that the prompt API moved to mlflow.genai; the calls are the same.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

INVALID = "INVALID_PARAMETER_VALUE"
MISSING = "RESOURCE_DOES_NOT_EXIST"
EXISTS = "RESOURCE_ALREADY_EXISTS"

PROMPT_TAG = "mlflow.prompt.is_prompt"
TEXT_TAG = "mlflow.prompt.text"
TYPE_TAG = "_mlflow_prompt_type"
FORMAT_TAG = "_mlflow_prompt_response_format"
# register_prompt and load_prompt record the active experiment on the prompt from a thread.
EXPERIMENTS_TAG = "_mlflow_experiment_ids"
# Loading a prompt in a run or for a logged model lists its version in this tag on them.
LINKED_TAG = "mlflow.linkedPrompts"

CHAT = [
    {"role": "system", "content": "You are a {{ style }} assistant."},
    {"role": "user", "content": "{{question}}"},
]


class Answer(BaseModel):
    answer: str
    confidence: float


@pytest.fixture
def name(unique: str, request: pytest.FixtureRequest) -> str:
    """A prompt name (and search prefix) no other test uses."""
    return f"pr-{request.node.originalname.removeprefix('test_')}-{unique}"


def raises(call: Any, code: str, message: str | None = None) -> str:
    """Call ``call``; assert it fails with ``code`` (and ``message`` in the text); the text."""
    with pytest.raises(MlflowException) as err:
        call()
    assert err.value.error_code == code, str(err.value)
    if message is not None:
        assert message in str(err.value), str(err.value)
    return str(err.value)


def load(uri: str) -> PromptVersion:
    """The prompt as the server has it now (the client caches loads by default)."""
    return mlflow.genai.load_prompt(uri, cache_ttl_seconds=0)


def own(tags: dict[str, str]) -> dict[str, str]:
    """Tags without the one the client adds from a background thread."""
    return {k: v for k, v in tags.items() if k != EXPERIMENTS_TAG}


def prompt_tags(client: MlflowClient, name: str) -> dict[str, str]:
    prompt = client.get_prompt(name)
    assert prompt is not None
    return own(prompt.tags)


def wait_for_tag(client: MlflowClient, name: str, key: str) -> str:
    """The value of a prompt tag the client sets asynchronously, once it is there."""
    deadline = time.monotonic() + 20
    while True:
        prompt = client.get_prompt(name)
        assert prompt is not None
        if key in prompt.tags:
            return prompt.tags[key]
        assert time.monotonic() < deadline, f"{key} never set on {name}: {prompt.tags}"
        time.sleep(0.1)


def rest_get(url: str, endpoint: str, **params: str) -> dict[str, Any]:
    answer = requests.get(f"{url}/api/2.0/mlflow/{endpoint}", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# --- registering and loading -----------------------------------------------------------------


def test_text_prompt_versions(client: MlflowClient, name: str) -> None:
    first = mlflow.genai.register_prompt(
        name,
        "Hello {{name}}, you are {{ role }}.",
        commit_message="first draft",
        tags={"author": "alice"},
        response_format={"type": "object", "properties": {"answer": {"type": "string"}}},
    )
    assert (first.name, first.version, first.uri) == (name, 1, f"prompts:/{name}/1")
    assert first.template == "Hello {{name}}, you are {{ role }}."
    assert first.is_text_prompt
    assert first.variables == {"name", "role"}
    assert first.commit_message == "first draft"
    assert first.tags == {"author": "alice"}
    assert first.response_format == {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
    }
    assert first.creation_timestamp > 1_600_000_000_000

    second = mlflow.genai.register_prompt(
        name, "Hi {{name}}!", commit_message="shorter", tags={"author": "bob"}
    )
    assert second.version == 2

    loaded = load(f"prompts:/{name}/2")
    assert (loaded.name, loaded.version) == (name, 2)
    assert loaded.template == "Hi {{name}}!"
    assert loaded.commit_message == "shorter"
    assert loaded.tags == {"author": "bob"}
    assert loaded.response_format is None
    assert loaded.creation_timestamp == second.creation_timestamp
    assert loaded.format(name="Ann") == "Hi Ann!"

    old = mlflow.genai.load_prompt(name, version=1, cache_ttl_seconds=0)
    assert old.template == first.template
    assert old.tags == {"author": "alice"}
    assert old.response_format == first.response_format
    assert old.format(name="Ann", role="an admin") == "Hello Ann, you are an admin."
    partial = old.format(name="Ann", allow_partial=True)
    assert isinstance(partial, PromptVersion)
    assert partial.template == "Hello Ann, you are {{ role }}."
    raises(lambda: old.format(name="Ann"), INVALID, "Missing variables: {'role'}")

    assert load(f"prompts:/{name}@latest").version == 2
    assert load(name).version == 2  # no version: the latest

    # The prompt is the registered model: its description is the first commit message and its
    # tags are the ones the last registration set.
    prompt = client.get_prompt(name)
    assert prompt is not None
    assert (prompt.name, prompt.description) == (name, "first draft")
    assert own(prompt.tags) == {"author": "bob"}
    assert prompt.creation_timestamp <= first.creation_timestamp


def test_chat_prompt(name: str) -> None:
    made = mlflow.genai.register_prompt(
        name,
        CHAT,
        commit_message="chat",
        response_format=Answer,
        model_config={"model_name": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 64},
    )
    assert made.version == 1
    assert not made.is_text_prompt

    loaded = load(f"prompts:/{name}/1")
    assert not loaded.is_text_prompt
    assert loaded.template == CHAT
    assert loaded.variables == {"style", "question"}
    assert loaded.commit_message == "chat"
    assert loaded.tags == {}
    assert loaded.response_format == Answer.model_json_schema()
    assert loaded.model_config == {
        "model_name": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 64,
    }
    assert loaded.format(style="terse", question="Why is the sky blue?") == [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    assert loaded.to_single_brace_format() == [
        {"role": "system", "content": "You are a {style} assistant."},
        {"role": "user", "content": "{question}"},
    ]


def test_stored_as_registered_model(client: MlflowClient, server: Any, name: str) -> None:
    """What the client sends is what the server keeps: a tagged model and tagged versions."""
    mlflow.genai.register_prompt(name, "Say {{x}}", commit_message="m", tags={"team": "nlp"})
    mlflow.genai.register_prompt(name, CHAT, response_format={"type": "string"})

    model = rest_get(server.url, "registered-models/get", name=name)["registered_model"]
    tags = {t["key"]: t["value"] for t in model["tags"]}
    assert own(tags) == {PROMPT_TAG: "true", "team": "nlp"}
    assert model["description"] == "m"

    v1 = rest_get(server.url, "model-versions/get", name=name, version="1")["model_version"]
    assert v1["source"] == "dummy-source"
    assert v1["description"] == "m"
    assert v1["current_stage"] == "None"
    assert v1["status"] == "READY"
    assert "run_id" not in v1 or v1["run_id"] == ""
    assert {t["key"]: t["value"] for t in v1["tags"]} == {
        PROMPT_TAG: "true",
        TEXT_TAG: "Say {{x}}",
        TYPE_TAG: "text",
        "team": "nlp",
    }
    v2 = rest_get(server.url, "model-versions/get", name=name, version="2")["model_version"]
    v2_tags = {t["key"]: t["value"] for t in v2["tags"]}
    assert json.loads(v2_tags[TEXT_TAG]) == CHAT
    assert v2_tags[TYPE_TAG] == "chat"
    assert json.loads(v2_tags[FORMAT_TAG]) == {"type": "string"}

    versions = client.search_prompt_versions(name)
    assert [pv.version for pv in versions] == [2, 1]
    assert versions[0].template == CHAT


def test_missing_prompts(client: MlflowClient, name: str) -> None:
    raises(lambda: load(f"prompts:/{name}/1"), MISSING, f"Prompt with name={name} not found")
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1", allow_missing=True) is None
    assert client.get_prompt(name) is None

    mlflow.genai.register_prompt(name, "x")
    raises(
        lambda: load(f"prompts:/{name}/7"),
        MISSING,
        f"Prompt (name={name}, version=7) not found",
    )
    assert mlflow.genai.load_prompt(f"prompts:/{name}/7", allow_missing=True) is None
    raises(lambda: load(f"prompts:/{name}@nope"), INVALID, "alias nope not found")
    raises(
        lambda: mlflow.genai.register_prompt("bad name!", "x"),
        INVALID,
        "Prompt name can only contain alphanumeric characters",
    )


# --- aliases ---------------------------------------------------------------------------------


def test_aliases(client: MlflowClient, server: Any, name: str) -> None:
    mlflow.genai.register_prompt(name, "one {{x}}")
    mlflow.genai.register_prompt(name, "two {{x}}")

    mlflow.genai.set_prompt_alias(name, "production", 1)
    prod = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert (prod.version, prod.template) == (1, "one {{x}}")
    assert prod.aliases == ["production"]
    assert prod.format(x="A") == "one A"

    # Moving the alias: the client drops its cached answer for it.
    mlflow.genai.set_prompt_alias(name, "production", 2)
    prod = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert (prod.version, prod.format(x="B")) == (2, "two B")

    mlflow.genai.set_prompt_alias(name, "staging", 1)
    by_alias = client.get_prompt_version_by_alias(name, "staging")
    assert (by_alias.version, by_alias.aliases) == (1, ["staging"])
    assert sorted(load(f"prompts:/{name}/2").aliases) == ["production"]
    model = rest_get(server.url, "registered-models/get", name=name)["registered_model"]
    assert sorted((a["alias"], a["version"]) for a in model["aliases"]) == [
        ("production", "2"),
        ("staging", "1"),
    ]

    mlflow.genai.delete_prompt_alias(name, "production")
    raises(
        lambda: load(f"prompts:/{name}@production"),
        INVALID,
        "Prompt alias production not found.",
    )
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production", allow_missing=True) is None
    assert load(f"prompts:/{name}@staging").version == 1
    assert load(f"prompts:/{name}/2").aliases == []

    raises(
        lambda: mlflow.genai.set_prompt_alias(name, "production", 9),
        MISSING,
        f"Prompt '{name}' version 9 does not exist.",
    )
    raises(
        lambda: mlflow.genai.set_prompt_alias(name, "latest", 1),
        INVALID,
        "'latest' alias name (case insensitive) is reserved.",
    )


# --- search ----------------------------------------------------------------------------------


def test_search_prompts_and_models_apart(client: MlflowClient, name: str) -> None:
    mlflow.genai.register_prompt(f"{name}-a", "a {{x}}", tags={"team": "red"})
    mlflow.genai.register_prompt(f"{name}-b", "b {{x}}", tags={"team": "blue"})
    mlflow.genai.register_prompt(f"{name}-b", "b2 {{x}}", tags={"team": "blue"})
    client.create_registered_model(f"{name}-model", tags={"team": "red"})
    run_id = client.create_run(client.create_experiment(name)).info.run_id
    client.create_model_version(f"{name}-model", f"runs:/{run_id}/model", run_id)

    found = mlflow.genai.search_prompts(filter_string=f"name LIKE '{name}%'")
    assert sorted(p.name for p in found) == [f"{name}-a", f"{name}-b"]
    by_name = {p.name: p for p in found}
    assert own(by_name[f"{name}-a"].tags) == {"team": "red"}
    assert PROMPT_TAG not in by_name[f"{name}-b"].tags

    red = mlflow.genai.search_prompts(filter_string=f"name LIKE '{name}%' AND tags.team = 'red'")
    assert [p.name for p in red] == [f"{name}-a"]
    assert mlflow.genai.search_prompts(filter_string=f"name = '{name}-model'") == []

    models = client.search_registered_models(f"name LIKE '{name}%'")
    assert [m.name for m in models] == [f"{name}-model"]
    red_models = client.search_registered_models(f"name LIKE '{name}%' AND tags.team = 'red'")
    assert [m.name for m in red_models] == [f"{name}-model"]
    assert client.search_registered_models(f"name = '{name}-a'") == []

    versions = client.search_model_versions(f"name LIKE '{name}%'")
    assert [(mv.name, mv.version) for mv in versions] == [(f"{name}-model", "1")]
    assert client.search_model_versions(f"name = '{name}-b'") == []

    # Paging through prompts, newest-first by name.
    first = client.search_prompts(
        filter_string=f"name LIKE '{name}%'", max_results=1, order_by=["name DESC"]
    )
    assert [p.name for p in first] == [f"{name}-b"]
    assert first.token
    rest = client.search_prompts(
        filter_string=f"name LIKE '{name}%'",
        max_results=1,
        order_by=["name DESC"],
        page_token=first.token,
    )
    assert [p.name for p in rest] == [f"{name}-a"]
    assert not rest.token


def test_search_prompts_by_experiment(client: MlflowClient, name: str) -> None:
    """The client links each prompt it registers to the active experiment with a tag, which
    ``experiment_id = "..."`` in search_prompts turns into a LIKE on that tag."""
    exp_a = mlflow.set_experiment(f"{name}-a").experiment_id
    mlflow.genai.register_prompt(f"{name}-a", "a")
    assert wait_for_tag(client, f"{name}-a", EXPERIMENTS_TAG) == f",{exp_a},"
    exp_b = mlflow.set_experiment(f"{name}-b").experiment_id
    mlflow.genai.register_prompt(f"{name}-b", "b")
    assert wait_for_tag(client, f"{name}-b", EXPERIMENTS_TAG) == f",{exp_b},"

    found = mlflow.genai.search_prompts(filter_string=f'experiment_id = "{exp_a}"')
    assert [p.name for p in found] == [f"{name}-a"]
    found = mlflow.genai.search_prompts(
        filter_string=f"experiment_id = '{exp_b}' AND name LIKE '{name}%'"
    )
    assert [p.name for p in found] == [f"{name}-b"]


# --- tags ------------------------------------------------------------------------------------


def test_prompt_version_tags(client: MlflowClient, name: str) -> None:
    mlflow.genai.register_prompt(name, "t {{x}}", tags={"author": "alice"})
    mlflow.genai.register_prompt(name, "u {{x}}")

    mlflow.genai.set_prompt_version_tag(name, 1, "reviewed", "yes")
    mlflow.genai.set_prompt_version_tag(name, "1", "author", "carol")
    got = load(f"prompts:/{name}/1")
    assert got.tags == {"author": "carol", "reviewed": "yes"}
    assert got.template == "t {{x}}"
    assert load(f"prompts:/{name}/2").tags == {}

    mlflow.genai.delete_prompt_version_tag(name, 1, "author")
    got = client.get_prompt_version(name, 1)
    assert got.tags == {"reviewed": "yes"}
    assert got.format(x="ok") == "t ok"

    raises(
        lambda: mlflow.genai.set_prompt_version_tag(name, 5, "k", "v"),
        MISSING,
        f"Prompt (name={name}, version=5) not found",
    )


def test_prompt_tags(client: MlflowClient, name: str) -> None:
    mlflow.genai.register_prompt(name, "x", tags={"owner": "a"})
    mlflow.genai.set_prompt_tag(name, "domain", "search")
    mlflow.genai.set_prompt_tag(name, "owner", "b")
    assert own(mlflow.genai.get_prompt_tags(name)) == {"owner": "b", "domain": "search"}
    mlflow.genai.delete_prompt_tag(name, "owner")
    assert prompt_tags(client, name) == {"domain": "search"}
    # Version tags are the version's own.
    assert load(f"prompts:/{name}/1").tags == {"owner": "a"}


# --- deleting --------------------------------------------------------------------------------


def test_delete_versions_then_prompt(client: MlflowClient, name: str) -> None:
    for text in ("one", "two", "three"):
        mlflow.genai.register_prompt(name, text)
    mlflow.genai.set_prompt_alias(name, "production", 2)

    client.delete_prompt_version(name, "2")
    raises(
        lambda: load(f"prompts:/{name}/2"), MISSING, f"Prompt (name={name}, version=2) not found"
    )
    # The version's alias went with it.
    raises(lambda: load(f"prompts:/{name}@production"), INVALID, "alias production not found")
    assert [pv.version for pv in client.search_prompt_versions(name)] == [3, 1]
    # Numbers are never reused.
    assert mlflow.genai.register_prompt(name, "four").version == 4
    assert load(f"prompts:/{name}@latest").template == "four"

    client.delete_prompt(name)
    assert client.get_prompt(name) is None
    raises(lambda: load(f"prompts:/{name}/1"), MISSING, f"Prompt with name={name} not found")
    assert mlflow.genai.search_prompts(filter_string=f"name = '{name}'") == []

    # The name is free again, and numbering starts over.
    again = mlflow.genai.register_prompt(name, "fresh")
    assert again.version == 1
    assert load(f"prompts:/{name}/1").template == "fresh"


# --- prompts and models side by side ---------------------------------------------------------


def test_names_are_shared_with_models(client: MlflowClient, name: str) -> None:
    model = f"{name}-model"
    client.create_registered_model(model)
    raises(
        lambda: mlflow.genai.register_prompt(model, "x"),
        INVALID,
        f"Model '{model}' exists with the same name.",
    )
    raises(
        lambda: load(f"prompts:/{model}/1"),
        INVALID,
        f"Name `{model}` is registered as a model, not a prompt.",
    )

    mlflow.genai.register_prompt(name, "x")
    raises(
        lambda: client.create_registered_model(name),
        EXISTS,
        f"Tried to create a registered model with name '{name}', but the name is already "
        "taken by a prompt. MLflow does not allow creating a model and a prompt with the same "
        "name.",
    )
    raises(
        lambda: client.create_prompt(name),
        EXISTS,
        f"Prompt (name={name}) already exists.",
    )
    # The client will not show or change a prompt through the model calls.
    raises(lambda: client.get_registered_model(name), MISSING, f"name='{name}' not found")
    raises(lambda: client.delete_registered_model(name), MISSING, f"name='{name}' not found")
    assert client.get_prompt(name) is not None


def test_prompt_versions_take_no_model_sources(client: MlflowClient, name: str) -> None:
    mlflow.genai.register_prompt(name, "x")
    raises(
        lambda: client._get_registry_client().create_model_version(
            name, "s3://bucket/prompt", tags={PROMPT_TAG: "true"}
        ),
        INVALID,
        "Invalid prompt source: 's3://bucket/prompt'. Prompt sources must use an MLflow "
        "placeholder.",
    )
    model = f"{name}-model"
    client.create_registered_model(model)
    raises(
        lambda: client.create_model_version(model, f"models:/{name}/1"),
        INVALID,
        f"Invalid model version source: 'models:/{name}/1'. Prompt versions cannot be used as "
        "model version sources.",
    )
    # The store's placeholder is accepted too.
    made = client._get_registry_client().create_model_version(
        name, "prompt-template", tags={PROMPT_TAG: "true", TEXT_TAG: "y", TYPE_TAG: "text"}
    )
    assert str(made.version) == "2"
    assert load(f"prompts:/{name}/2").template == "y"


# --- links -----------------------------------------------------------------------------------


def test_loading_links_to_run_and_logged_model(client: MlflowClient, name: str) -> None:
    """Loading a prompt in a run, or for a logged model, tags them with the prompt's version
    (the run synchronously, the model from a thread)."""
    mlflow.genai.register_prompt(name, "hi {{x}}")
    mlflow.genai.register_prompt(name, "hello {{x}}")
    exp_id = client.create_experiment(name)
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.genai.load_prompt(f"prompts:/{name}/1", link_to_model=False)
        mlflow.genai.load_prompt(f"prompts:/{name}/2", link_to_model=False)
    linked = json.loads(client.get_run(run.info.run_id).data.tags[LINKED_TAG])
    assert sorted(linked, key=lambda p: p["version"]) == [
        {"name": name, "version": "1"},
        {"name": name, "version": "2"},
    ]

    model = client.create_logged_model(exp_id, name="agent")
    mlflow.genai.load_prompt(f"prompts:/{name}/2", model_id=model.model_id)
    deadline = time.monotonic() + 20
    while LINKED_TAG not in (tags := client.get_logged_model(model.model_id).tags):
        assert time.monotonic() < deadline, tags
        time.sleep(0.1)
    assert json.loads(tags[LINKED_TAG]) == [{"name": name, "version": "2"}]

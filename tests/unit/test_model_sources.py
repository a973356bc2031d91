"""A model version's source: what resolves to a location in the store, what is refused, and
every model-version CVE of reference/peers.md §4.3 replayed with the payload it was found with."""

from __future__ import annotations

import pytest

from runyard.domain.model_sources import (
    SourceOwner,
    check_prompt_source,
    resolve_version_source,
)
from runyard.errors import InvalidParameterValue

RUN_ID = "0123456789abcdef0123456789abcdef"
OTHER_RUN_ID = "ffffffffffffffffffffffffffffffff"
MODEL_ID = "m-fedcba9876543210fedcba9876543210"
RUN_ROOT = f"mlflow-artifacts:/1/{RUN_ID}/artifacts"
MODEL_ROOT = f"mlflow-artifacts:/1/models/{MODEL_ID}/artifacts"
HOSTED_ROOT = f"mlflow-artifacts://Tracker.example:5000/1/{RUN_ID}/artifacts"

RUN = SourceOwner("run", RUN_ID, RUN_ROOT)
MODEL = SourceOwner("model", MODEL_ID, MODEL_ROOT)
HOSTED_RUN = SourceOwner("run", RUN_ID, HOSTED_ROOT)
MISSING_RUN = SourceOwner("run", RUN_ID, None)
MISSING_MODEL = SourceOwner("model", MODEL_ID, None)
# A run of a server without the proxy: MLflow would accept paths inside this directory.
LOCAL_RUN = SourceOwner("run", RUN_ID, f"file:///srv/mlruns/1/{RUN_ID}/artifacts")


def run_under(artifact_location: str) -> SourceOwner:
    """The run the server creates in an experiment with this artifact_location."""
    return SourceOwner("run", RUN_ID, f"{artifact_location.rstrip('/')}/{RUN_ID}/artifacts")


LOCAL = "Local paths and file: URIs are not served"
RUN_LINK = "The run_id request parameter must identify the resource that contains the source."
MODEL_LINK = "The model_id request parameter must identify the resource that contains the source."
UNSERVED_ROOT = "which this server does not serve"
UNSAFE_ROOT = "is not a safe place in this server's artifact store"
DOTDOT = "it contains '..'"
ODD_CHAR = "it contains a backslash, '#', '?' or a control character"
ENCODED = "it is still percent-encoded"
ANCESTOR = "registering a version from another version is not supported"


def refusal(source: str, owner: SourceOwner | None) -> str:
    """The message of the MLflow error JSON the source is refused with."""
    with pytest.raises(InvalidParameterValue) as caught:
        resolve_version_source(source, owner)
    body = caught.value.to_json()
    assert caught.value.status == 400
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    message: str = body["message"]
    return message


@pytest.mark.parametrize(
    ("source", "owner", "location"),
    [
        pytest.param(f"runs:/{RUN_ID}/model", RUN, f"{RUN_ROOT}/model", id="runs-uri"),
        pytest.param(f"runs:/{RUN_ID}", RUN, RUN_ROOT, id="runs-uri-root"),
        pytest.param(f"runs:/{RUN_ID}/", RUN, RUN_ROOT, id="runs-uri-root-slash"),
        pytest.param(f"runs:/{RUN_ID}/a/b/model", RUN, f"{RUN_ROOT}/a/b/model", id="runs-deep"),
        pytest.param(f"RUNS:/{RUN_ID}/model", RUN, f"{RUN_ROOT}/model", id="scheme-any-case"),
        pytest.param(f"models:/{MODEL_ID}", MODEL, MODEL_ROOT, id="logged-model-uri"),
        pytest.param(MODEL_ROOT, MODEL, MODEL_ROOT, id="logged-model-location"),
        pytest.param(f"{MODEL_ROOT}/data", MODEL, f"{MODEL_ROOT}/data", id="in-logged-model"),
        pytest.param(RUN_ROOT, RUN, RUN_ROOT, id="run-artifact-uri"),
        pytest.param(f"{RUN_ROOT}/model", RUN, f"{RUN_ROOT}/model", id="in-run"),
        pytest.param(f"{RUN_ROOT}/model/", RUN, f"{RUN_ROOT}/model", id="trailing-slash"),
        pytest.param(f"{RUN_ROOT}/model///", RUN, f"{RUN_ROOT}/model", id="trailing-slashes"),
        pytest.param(f"{RUN_ROOT}/foo///bar", RUN, f"{RUN_ROOT}/foo/bar", id="repeated-slashes"),
        pytest.param(f"{RUN_ROOT}/./model", RUN, f"{RUN_ROOT}/model", id="dot-segment"),
        pytest.param(f"{RUN_ROOT}/m/..../", RUN, f"{RUN_ROOT}/m/....", id="four-dots-is-a-name"),
        pytest.param(
            f"{RUN_ROOT}/dir with spaces/modèle",
            RUN,
            f"{RUN_ROOT}/dir with spaces/modèle",
            id="names",
        ),
        pytest.param(
            f"mlflow-artifacts:///1/{RUN_ID}/artifacts/m",
            RUN,
            f"{RUN_ROOT}/m",
            id="empty-authority",
        ),
        pytest.param(
            f"mlflow-artifacts://tracker.EXAMPLE:5000/1/{RUN_ID}/artifacts/m",
            HOSTED_RUN,
            f"{HOSTED_ROOT}/m",
            id="same-host-any-case",
        ),
        pytest.param(f"runs:/{RUN_ID}/m", HOSTED_RUN, f"{HOSTED_ROOT}/m", id="runs-keeps-host"),
        pytest.param(
            f"runs:/{RUN_ID}/m",
            run_under("mlflow-artifacts:/team-a"),
            f"mlflow-artifacts:/team-a/{RUN_ID}/artifacts/m",
            id="custom-proxied-location",
        ),
    ],
)
def test_accepted_sources_resolve_inside_the_owner(
    source: str, owner: SourceOwner, location: str
) -> None:
    assert resolve_version_source(source, owner) == location
    # What is stored is itself an accepted source for the same owner, resolving to itself.
    assert resolve_version_source(location, owner) == location


@pytest.mark.parametrize(
    ("source", "owner", "reason"),
    [
        # Outside the store: runyard always proxies, so no local or foreign location is served.
        pytest.param("/etc", RUN, LOCAL, id="absolute-path"),
        pytest.param("model/dir", RUN, LOCAL, id="relative-path"),
        pytest.param("dummy-source", None, LOCAL, id="placeholder-without-prompt-tag"),
        pytest.param("C:\\mlruns\\1", RUN, LOCAL, id="windows-drive"),
        pytest.param("c:/mlruns/1", RUN, LOCAL, id="windows-drive-slash"),
        pytest.param("file://localhost/etc", RUN, LOCAL, id="file-localhost"),
        pytest.param(
            f"file:///srv/mlruns/1/{RUN_ID}/artifacts/model", LOCAL_RUN, LOCAL, id="in-local-run"
        ),
        pytest.param("s3://bucket/model", None, "The 's3' scheme is not served", id="s3"),
        pytest.param("gs://bucket/model", RUN, "The 'gs' scheme is not served", id="gs"),
        pytest.param(f"dbfs:/{RUN_ID}/m", RUN, "The 'dbfs' scheme is not served", id="dbfs"),
        pytest.param("hdfs://nn:8020/m", RUN, "The 'hdfs' scheme is not served", id="hdfs"),
        pytest.param("ftp://h/model", RUN, "The 'ftp' scheme is not served", id="ftp"),
        pytest.param(
            f"http://localhost:5000/api/2.0/mlflow-artifacts/artifacts/1/{RUN_ID}/artifacts/m",
            RUN,
            "The 'http' scheme is not served",
            id="http-proxy-url",
        ),
        pytest.param(
            f"mlflow-artifacts://evil.example/1/{RUN_ID}/artifacts/m",
            RUN,
            "It names the host 'evil.example', but the run's artifacts are served by this server",
            id="other-host",
        ),
        pytest.param(
            f"{RUN_ROOT}/m",
            HOSTED_RUN,
            "It names no host, but the run's artifacts are served by the host "
            "'Tracker.example:5000'",
            id="host-dropped",
        ),
        # run_id and model_id link the source as MLflow 3.17 links them.
        pytest.param(f"runs:/{RUN_ID}/m", None, RUN_LINK, id="runs-without-run-id"),
        pytest.param(
            f"runs:/{RUN_ID}/m",
            SourceOwner("run", OTHER_RUN_ID, RUN_ROOT),
            RUN_LINK,
            id="other-run",
        ),
        pytest.param(f"runs:/{RUN_ID}/m", MISSING_RUN, RUN_LINK, id="no-such-run"),
        pytest.param(f"runs://host/{RUN_ID}/m", RUN, RUN_LINK, id="runs-with-host"),
        pytest.param(f"runs:/{RUN_ID}/m", MODEL, MODEL_LINK, id="runs-with-model-id"),
        pytest.param(f"models:/{MODEL_ID}", None, MODEL_LINK, id="model-without-model-id"),
        pytest.param(f"models:/{MODEL_ID}", RUN, MODEL_LINK, id="model-with-run-id-only"),
        pytest.param(
            f"models:/{MODEL_ID}",
            SourceOwner("model", "m-other", MODEL_ROOT),
            MODEL_LINK,
            id="other-model",
        ),
        pytest.param(f"models:/{MODEL_ID}", MISSING_MODEL, MODEL_LINK, id="no-such-model"),
        pytest.param(f"{RUN_ROOT}/m", None, RUN_LINK, id="proxied-without-ids"),
        pytest.param(f"{RUN_ROOT}/m", MISSING_RUN, RUN_LINK, id="proxied-no-such-run"),
        pytest.param(f"{MODEL_ROOT}/m", MISSING_MODEL, MODEL_LINK, id="proxied-no-such-model"),
        pytest.param("mlflow-artifacts:/models", RUN, RUN_LINK, id="outside-the-run"),
        pytest.param(
            f"mlflow-artifacts:/1/{OTHER_RUN_ID}/artifacts", RUN, RUN_LINK, id="another-run"
        ),
        pytest.param(f"{RUN_ROOT}2/m", RUN, RUN_LINK, id="prefix-is-not-a-parent"),
        pytest.param(f"mlflow-artifacts:/1/{RUN_ID}", RUN, RUN_LINK, id="above-the-run-root"),
        pytest.param(MODEL_ROOT, RUN, RUN_LINK, id="model-files-with-run-id"),
        pytest.param(RUN_ROOT, MODEL, MODEL_LINK, id="run-files-with-model-id"),
        # Registered-model sources, malformed models: and runs: URIs.
        pytest.param(
            f"models://host/{MODEL_ID}",
            MODEL,
            "Registered model sources must use the active model registry.",
            id="models-with-host",
        ),
        pytest.param("models:/name/1", RUN, ANCESTOR, id="registered-version"),
        pytest.param("models:/name@champion", RUN, ANCESTOR, id="registered-alias"),
        pytest.param("models:/name/Production", MODEL, ANCESTOR, id="registered-stage"),
        pytest.param("models:/name/latest", None, ANCESTOR, id="registered-latest"),
        pytest.param("models:", MODEL, MODEL_LINK, id="models-empty"),
        pytest.param("models:/", MODEL, MODEL_LINK, id="models-slash"),
        pytest.param(f"models:{MODEL_ID}", MODEL, MODEL_LINK, id="models-no-slash"),
        pytest.param(f"models:/{MODEL_ID}/", MODEL, MODEL_LINK, id="models-empty-version"),
        pytest.param("models:/a/b/c", MODEL, MODEL_LINK, id="models-three-parts"),
        pytest.param("models:/name@", MODEL, MODEL_LINK, id="models-empty-alias"),
        pytest.param(f"runs:/./{RUN_ID}", RUN, "'.' is not a run or model id", id="runs-dot-id"),
        pytest.param(f"runs:/{RUN_ID}#/m", RUN, ODD_CHAR, id="runs-fragment-in-id"),
        pytest.param(f"models:/{MODEL_ID}?x=1", MODEL, ODD_CHAR, id="models-query"),
        # The owner's own root is checked as strictly as a source.
        pytest.param(
            f"runs:/{RUN_ID}/m", run_under("s3://bucket/exp"), UNSERVED_ROOT, id="root-in-s3"
        ),
        pytest.param(f"runs:/{RUN_ID}/m", LOCAL_RUN, UNSERVED_ROOT, id="root-on-local-disk"),
        pytest.param(
            f"runs:/{RUN_ID}", run_under("mlflow-artifacts:/../../etc"), UNSAFE_ROOT, id="root-dots"
        ),
        pytest.param(
            f"runs:/{RUN_ID}",
            SourceOwner("run", RUN_ID, "mlflow-artifacts:/"),
            UNSAFE_ROOT,
            id="root-is-the-store",
        ),
        pytest.param(
            f"runs:/{RUN_ID}",
            run_under("mlflow-artifacts://a b/1"),
            "the host 'a b' is malformed",
            id="root-host-malformed",
        ),
        pytest.param(
            f"runs:/{RUN_ID}",
            SourceOwner("run", RUN_ID, "mlflow-artifacts:/1"),
            "It resolves to '1', which is not inside one run's or one logged model's artifacts",
            id="root-is-an-experiment-directory",
        ),
        # The path itself: artifact_paths.clean's rules, reported against the source.
        pytest.param(f"{RUN_ROOT}/../../2", RUN, DOTDOT, id="dotdot"),
        pytest.param(f"{RUN_ROOT}/a\\b", RUN, ODD_CHAR, id="backslash"),
        pytest.param(f"{RUN_ROOT}/m#x", RUN, ODD_CHAR, id="hash"),
        pytest.param(f"{RUN_ROOT}/m?x", RUN, ODD_CHAR, id="query"),
        pytest.param(f"{RUN_ROOT}/m\x00", RUN, ODD_CHAR, id="nul"),
        pytest.param(f"{RUN_ROOT}/m%00", RUN, ENCODED, id="encoded-nul"),
        pytest.param(f"{RUN_ROOT}/my%20model", RUN, ENCODED, id="any-encoding"),
        pytest.param(f"{RUN_ROOT}/%2e%2e/%2e%2e", RUN, ENCODED, id="encoded-dotdot"),
        pytest.param(f"{RUN_ROOT}/%252e%252e", RUN, ENCODED, id="double-encoded-dotdot"),
        pytest.param(f"{RUN_ROOT}/{'n' * 256}", RUN, "is 256 bytes long", id="long-name"),
    ],
)
def test_refused_sources(source: str, owner: SourceOwner | None, reason: str) -> None:
    message = refusal(source, owner)
    assert message.startswith(f"Invalid model version source: '{source}'. ")
    assert reason in message


@pytest.mark.parametrize("source", ["runs:", "runs:/", f"runs:{RUN_ID}/model", "runs://"])
def test_malformed_runs_uri_is_a_400_not_mlflows_500(source: str) -> None:
    message = refusal(source, RUN)
    assert message == (
        f"Not a proper runs:/ URI: {source}. "
        "Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'"
    )


def test_refusal_is_mlflows_error_json() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        resolve_version_source("file:///etc/", RUN)
    assert caught.value.to_json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": caught.value.message,
        "sqlstate": "KAM00",
        "error_class": "INVALID_PARAMETER_VALUE",
    }


# --- the CVEs (reference/peers.md §4.3) -----------------------------------------------------
# Each case is (source, the run or model the request names, why it must be refused). The
# experiment-level payloads become the run's artifact root, as the server would build it.

_TRAVERSAL_TO_ETC = "/".join([".."] * 14) + "/etc/"
CVE_CASES = [
    pytest.param(
        # The published exploits register "file:///" (Tsunami) or "/etc" (MLFIflow) with no
        # run_id, then read /model-versions/get-artifact?path=etc/passwd.
        [("file:///", None, LOCAL), ("/etc", None, LOCAL), ("file:///", RUN, LOCAL)],
        id="CVE-2023-1177",
    ),
    pytest.param(
        # Relative paths in http, mlflow-artifacts, file and object-store sources; the first
        # two start inside the run's own artifacts, so only the '..' rule stands in the way.
        [
            (f"{RUN_ROOT}/../../../../../../etc", RUN, DOTDOT),
            (f"runs:/{RUN_ID}/../../../../etc", RUN, DOTDOT),
            ("mlflow-artifacts://host:port/../../../../", RUN, DOTDOT),
            ("mlflow-artifacts://host:port/..%2f..%2f..%2f..%2f", RUN, ENCODED),
            ("http://host:port/api/2.0/mlflow-artifacts/artifacts/../../../../", RUN, "'http'"),
            ("s3:/my_bucket/models/path/../../other/path", RUN, "'s3'"),
            ("file://path/to/../../../../some/where/you/should/not/be", RUN, LOCAL),
        ],
        id="CVE-2023-2356",
    ),
    pytest.param(
        # '\..\' segments, which a Windows path (and a careless normaliser) treats as '/../'.
        [
            (f"{RUN_ROOT}/..\\..\\..\\..\\..\\etc", RUN, ODD_CHAR),
            (f"runs:/{RUN_ID}/..\\..\\..\\..\\etc", RUN, ODD_CHAR),
            (f"file:///srv/mlruns/1/{RUN_ID}/artifacts\\..\\..\\..\\..\\etc", LOCAL_RUN, LOCAL),
        ],
        id="CVE-2023-2780",
    ),
    pytest.param(
        # The traversal hidden after '?' in the experiment's artifact_location, then a
        # version whose source is inside that run's "artifacts".
        [
            ("file:///etc/", run_under("http:///?/" + _TRAVERSAL_TO_ETC), LOCAL),
            (f"runs:/{RUN_ID}", run_under("http:///?/" + _TRAVERSAL_TO_ETC), UNSERVED_ROOT),
            (f"runs:/{RUN_ID}", run_under("mlflow-artifacts:/?/" + _TRAVERSAL_TO_ETC), UNSAFE_ROOT),
        ],
        id="CVE-2023-6909",
    ),
    pytest.param(
        # "//proc/self/root" has the host "proc" to a URI parser, which once made it "remote".
        [
            ("//proc/self/root", None, LOCAL),
            ("//proc/self/root", RUN, LOCAL),
            ("file://proc/self/root", RUN, LOCAL),
        ],
        id="CVE-2023-6977",
    ),
    pytest.param(
        # Tsunami's payload: artifact_location "http:///#/../../(x14)/etc/", a run in it, and
        # source "file:///etc/" with that run_id. MLflow's join kept the fragment last.
        [
            ("file:///etc/", run_under("http:///#/" + _TRAVERSAL_TO_ETC), LOCAL),
            (
                "file:///etc/",
                SourceOwner("run", RUN_ID, f"http:///{RUN_ID}/artifacts#/{_TRAVERSAL_TO_ETC}"),
                LOCAL,
            ),
        ],
        id="CVE-2024-1483",
    ),
    pytest.param(
        # ozelis's payload: '%23' decodes to '#', so the checked path stopped at "xxx"; and
        # MLflow's regression test for it ('%3f' before the dots).
        [
            ("http:///xxx%23/api/2.0/mlflow-artifacts/artifacts/" + "../" * 11, RUN, "'http'"),
            (f"dbfs:/{RUN_ID}/artifacts/a%3f/" + "../" * 10, RUN, "'dbfs'"),
            (f"{RUN_ROOT}%23/../../../../../../etc", RUN, ENCODED),
            (f"{RUN_ROOT}/a%3f/../../../../etc", RUN, ENCODED),
        ],
        id="CVE-2024-1558",
    ),
    pytest.param(
        # A '#' fragment in the experiment's artifact_location (6909 with another URI part);
        # the source is exactly what the server handed out, so only the root check can refuse.
        [
            (f"runs:/{RUN_ID}", run_under("mlflow-artifacts:/#/" + _TRAVERSAL_TO_ETC), UNSAFE_ROOT),
            (f"runs:/{RUN_ID}/m", run_under("file:///#/" + _TRAVERSAL_TO_ETC), UNSERVED_ROOT),
            (
                f"mlflow-artifacts:/#/{_TRAVERSAL_TO_ETC}{RUN_ID}/artifacts",
                run_under("mlflow-artifacts:/#/" + _TRAVERSAL_TO_ETC),
                ODD_CHAR,
            ),
        ],
        id="CVE-2024-1594",
    ),
    pytest.param(
        # The '#' bypass of 6909's fix, aimed at SSH and cloud keys: in the source itself and
        # in the root the source was taken from.
        [
            (f"{RUN_ROOT}#/../../../../../root/.ssh/id_rsa", RUN, ODD_CHAR),
            (f"runs:/{RUN_ID}#/../../../../../root/.aws", RUN, ODD_CHAR),
            (f"runs:/{RUN_ID}", run_under("http:///#/../../../../root/.ssh/"), UNSERVED_ROOT),
        ],
        id="CVE-2024-3848",
    ),
    pytest.param(
        # "Model creation directory traversal": the advisory publishes no payload, so this is the
        # shape it names, a traversal in where a model's files are, reached through a version.
        [
            (
                f"models:/{MODEL_ID}",
                SourceOwner("model", MODEL_ID, f"mlflow-artifacts:/../../../../tmp/{MODEL_ID}"),
                UNSAFE_ROOT,
            ),
            (f"{MODEL_ROOT}/../../../../../etc", MODEL, DOTDOT),
            (f"models:/../../{MODEL_ID}", MODEL, MODEL_LINK),
        ],
        id="CVE-2025-11201",
    ),
]


@pytest.mark.parametrize("cases", CVE_CASES)
def test_cve_payload_is_refused(cases: list[tuple[str, SourceOwner | None, str]]) -> None:
    for source, owner, reason in cases:
        assert reason in refusal(source, owner), source


def test_cve_2026_2614_prompt_tag_carries_no_path() -> None:
    """The prompt tag skipped the source rules and get-artifact then served the stored path."""
    for source in ("/etc", "file:///etc/passwd", f"runs:/{RUN_ID}/model", RUN_ROOT):
        with pytest.raises(InvalidParameterValue) as caught:
            check_prompt_source(source)
        assert caught.value.message == (
            f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
        )
    for placeholder in ("dummy-source", "prompt-template"):
        check_prompt_source(placeholder)

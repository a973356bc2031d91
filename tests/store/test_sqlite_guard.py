"""One host per SQLite database: the first start records its host, another host is refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from runyard.app import open_context
from runyard.settings import Settings
from runyard.store import sqlite_guard
from runyard.store.sqlite_guard import SqliteServedElsewhere, claim, host_file, sqlite_path


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The host name the guard sees; tests change ``host[0]`` to move the database."""
    name = ["alpha"]
    monkeypatch.setattr(sqlite_guard, "this_host", lambda: name[0])
    return name


def test_first_start_records_the_host_and_restarts_on_it_are_fine(
    tmp_path: Path, host: list[str]
) -> None:
    db = tmp_path / "runyard.db"
    claim(f"sqlite:///{db}")
    assert (tmp_path / "runyard.db.host").read_text() == "alpha\n"
    for _ in range(3):  # restarts and further workers on the same host
        claim(f"sqlite:///{db}")
    assert (tmp_path / "runyard.db.host").read_text() == "alpha\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runyard.db.host"]  # nothing staged left


def test_another_host_is_refused_with_why_and_what_to_do(tmp_path: Path, host: list[str]) -> None:
    db = tmp_path / "runyard.db"
    claim(f"sqlite:///{db}")
    host[0] = "beta"
    with pytest.raises(SqliteServedElsewhere) as refused:
        claim(f"sqlite:///{db}")
    message = str(refused.value)
    assert "'alpha'" in message and "'beta'" in message
    assert "only safe on one host" in message
    assert "PostgreSQL" in message
    assert f"delete {tmp_path / 'runyard.db.host'}" in message
    assert (tmp_path / "runyard.db.host").read_text() == "alpha\n"  # the claim is kept


def test_deleting_the_file_lets_the_moved_database_start(tmp_path: Path, host: list[str]) -> None:
    db = tmp_path / "runyard.db"
    claim(f"sqlite:///{db}")
    host[0] = "beta"
    host_file(db).unlink()
    claim(f"sqlite:///{db}")
    assert host_file(db).read_text() == "beta\n"


def test_host_names_compare_without_case(tmp_path: Path, host: list[str]) -> None:
    claim(f"sqlite:///{tmp_path / 'x.db'}")
    host[0] = "ALPHA"
    claim(f"sqlite:///{tmp_path / 'x.db'}")  # the same host: accepted, not refused
    assert host_file(tmp_path / "x.db").read_text() == "alpha\n"  # and not re-recorded
    host[0] = "ALPHA-2"
    with pytest.raises(SqliteServedElsewhere):
        claim(f"sqlite:///{tmp_path / 'x.db'}")


def test_an_empty_file_claims_nothing(tmp_path: Path, host: list[str]) -> None:
    host_file(tmp_path / "x.db").write_text("\n")
    claim(f"sqlite:///{tmp_path / 'x.db'}")
    assert host_file(tmp_path / "x.db").read_text() == "alpha\n"


def test_hosts_starting_at_once_agree_on_one_owner(tmp_path: Path) -> None:
    """Each start links its own staged file into place; exactly one link wins."""
    db = tmp_path / "race.db"
    barrier = threading.Barrier(8)
    seen: dict[str, str] = {}  # host -> the owner its start saw

    def start(name: str) -> None:
        barrier.wait()
        seen[name] = sqlite_guard._create(host_file(db), name)  # the step hosts could race on

    threads = [threading.Thread(target=start, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    owner = host_file(db).read_text().strip()
    assert len(seen) == 8 and set(seen.values()) == {owner}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.db.host"]


def test_open_context_refuses_before_touching_the_database(tmp_path: Path, host: list[str]) -> None:
    db = tmp_path / "runyard.db"
    settings = Settings(backend_store_uri=f"sqlite:///{db}")
    open_context(settings).db.dispose()
    assert host_file(db).read_text() == "alpha\n"
    db.unlink()
    host[0] = "beta"
    with pytest.raises(SqliteServedElsewhere):
        open_context(settings)
    assert not db.exists()  # refused before SQLite created (or migrated) anything


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:///relative/runyard.db", Path("relative/runyard.db")),
        ("sqlite:////abs/runyard.db", Path("/abs/runyard.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/x", None),
    ],
)
def test_which_uris_name_a_shared_file(uri: str, expected: Path | None) -> None:
    assert sqlite_path(uri) == expected


def test_other_databases_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    claim("sqlite://")
    claim("postgresql+psycopg://postgres@127.0.0.1:5432/x")
    assert list(tmp_path.iterdir()) == []

"""Every setting and every `runyard server` flag is documented."""

from pathlib import Path

from runyard.cli.server import server
from runyard.settings import setting_names

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_in_the_configuration_doc() -> None:
    text = DOCS.read_text()
    for name in setting_names():
        assert f"| {name} |" in text, name
        assert f"RUNYARD_{name.upper()}" in text, name


def test_every_server_flag_is_in_the_configuration_doc() -> None:
    text = DOCS.read_text()
    for param in server.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert f"`{opt}`" in text, opt

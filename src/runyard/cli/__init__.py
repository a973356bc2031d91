"""The ``runyard`` command line."""

from __future__ import annotations

import click

from runyard import __version__
from runyard.cli.db import db
from runyard.cli.deploy import deploy
from runyard.cli.doctor import doctor
from runyard.cli.gc import gc
from runyard.cli.permissions import permissions
from runyard.cli.server import server
from runyard.cli.setup import setup
from runyard.cli.tokens import tokens
from runyard.cli.users import users


@click.group()
@click.version_option(__version__, prog_name="runyard")
def main() -> None:
    """runyard: an experiment-tracking server that speaks MLflow's REST protocol."""


main.add_command(server)
main.add_command(db)
main.add_command(setup)
main.add_command(deploy)
main.add_command(users)
main.add_command(tokens)
main.add_command(permissions)
main.add_command(doctor)
main.add_command(gc)

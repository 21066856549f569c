"""`flask --app wsgi cookiegate <command>`: the group of set-up and data-protection chores.

Each area defines its commands with @click.command and adds them to the group in its own
init_app (add_commands); no module adds a command to the group as a side effect of its import.
"""
from __future__ import annotations

from typing import Mapping, Optional

import click
from flask import Flask
from flask.cli import AppGroup

from .errors import Invalid

GROUP = "cookiegate"


def init_app(app: Flask) -> None:
    app.cli.add_command(AppGroup(GROUP, help="Manage sites, users and the consent log."))


def refused(error: Invalid, options: Optional[Mapping[str, str]] = None) -> click.ClickException:
    """A domain function's Invalid as the command line says it: one line a field, named by its
    option where `options` maps the field to one (nothing was changed)."""
    options = options or {}
    return click.ClickException("\n".join(f"{options.get(field, field)}: {message}" for field, message in error.errors.items()))


def add_commands(app: Flask, *commands: click.Command) -> None:
    group = app.cli.commands[GROUP]
    for command in commands:
        group.add_command(command)

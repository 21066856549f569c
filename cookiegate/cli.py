"""`flask --app wsgi cookiegate <command>`: the group of set-up and data-protection chores.

Each area defines its commands with @click.command and adds them to the group in its own
init_app (add_commands); no module adds a command to the group as a side effect of its import.
"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

GROUP = "cookiegate"


def init_app(app: Flask) -> None:
    app.cli.add_command(AppGroup(GROUP, help="Manage sites, users and the consent log."))


def add_commands(app: Flask, *commands: click.Command) -> None:
    group = app.cli.commands[GROUP]
    for command in commands:
        group.add_command(command)

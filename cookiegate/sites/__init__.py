"""Sites and what they show their visitors.

site (a site: create, find, origins, languages, policy version, colours), catalogue (the built-in
services and their cookies), colours (banner colour rules), banner_config (the config a banner
loads, from banner_texts/<lang>.json and the site's own texts), cache (what each process keeps:
site snapshots and the withdrawal list), lookup (which site a request is about), cli (the commands).
"""
from flask import Flask


def init_app(app: Flask) -> None:
    from ..cli import add_commands
    from .cli import COMMANDS

    add_commands(app, *COMMANDS)


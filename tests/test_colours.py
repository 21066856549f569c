"""A site's banner colours: validated, stored, delivered in the config, settable from the command line."""
from __future__ import annotations

import pytest

from cookiegate.extensions import db
from cookiegate.sites.banner_config import public_config
from cookiegate.sites.colours import contrast, delivered, validate_colours
from cookiegate.sites.site import get_site, set_banner_colours

from .support import make_site


def test_valid_colours_are_stored_in_one_form():
    assert validate_colours({"accent": "#06A", "text": "#111111"}) == {"accent": "#0066aa", "text": "#111111"}
    assert validate_colours({"accent": "#0B4F8A"}) == {"accent": "#0b4f8a"}
    assert validate_colours(None) == {} and validate_colours({}) == {}


@pytest.mark.parametrize(
    "colours, message",
    [
        ({"accent": "blue"}, "#rgb or #rrggbb"),
        ({"accent": "#12345"}, "#rgb or #rrggbb"),
        ({"accent": "#0b4f8a;}"}, "#rgb or #rrggbb"),
        ({"accent": 5}, "#rgb or #rrggbb"),
        ({"border": "#000000"}, "unknown banner colour 'border'"),
        ({"text": "#dddddd"}, "hard to read"),
        ({"accent": "#ffff00"}, "hard to read"),
        ({"background": "#000000"}, "hard to read"),  # the default text on black
        ("#0b4f8a", "must be an object"),
    ],
)
def test_bad_colours_are_refused_with_a_reason(colours, message):
    with pytest.raises(ValueError, match=message):
        validate_colours(colours)


def test_the_text_on_the_accent_is_chosen_for_contrast():
    assert delivered({"accent": "#0b4f8a"})["on_accent"] == "#ffffff"
    assert delivered({"accent": "#ffd60a", "background": "#1a1a1a", "text": "#ffffff"})["on_accent"] == "#000000"
    assert delivered({}) == {}
    assert contrast("#000000", "#ffffff") == pytest.approx(21)


def test_the_config_carries_the_sites_colours(app):
    site = make_site(origins=["https://shop.example.dk"])
    assert public_config(site, "da")["colours"] == {}
    set_banner_colours(site, {"accent": "#7a1f5c"})
    db.session.commit()
    assert public_config(get_site(site.key), "da")["colours"] == {"accent": "#7a1f5c", "on_accent": "#ffffff"}
    with pytest.raises(ValueError):
        set_banner_colours(site, {"accent": "#fafafa"})


def test_colours_from_the_command_line(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cookiegate", "create-site", "Kaffe", "--origin", "https://kaffe.dk", "--colour", "accent=#7a1f5c"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert get_site(key).banner_colours == {"accent": "#7a1f5c"}
    result = runner.invoke(args=["cookiegate", "banner-colours", key, "accent=#005a32", "background=#fffbe6"])
    assert result.exit_code == 0 and "accent=#005a32" in result.output
    db.session.expire_all()
    assert get_site(key).banner_colours == {"accent": "#005a32", "background": "#fffbe6"}
    result = runner.invoke(args=["cookiegate", "banner-colours", key, "accent=#ffff00"])
    assert result.exit_code != 0 and "hard to read" in result.output
    result = runner.invoke(args=["cookiegate", "create-site", "X", "--origin", "https://x.dk", "--colour", "accent"])
    assert result.exit_code != 0 and "KEY=#hex" in result.output

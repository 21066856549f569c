"""Device type, browser family and OS family from the User-Agent and client hints; the parse cache."""
from __future__ import annotations

import re

import pytest

from cookiegate.infra import useragent
from cookiegate.infra.useragent import MAX_AGENT, Device, classify, parse_agent

AGENTS = {
    "iphone_safari": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        Device("mobile", "Mobile Safari", "iOS", False),
    ),
    "iphone_chrome": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        Device("mobile", "Chrome Mobile iOS", "iOS", False),
    ),
    "iphone_facebook_app": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.0;FBBV/1;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBLC/da_DK]",
        Device("mobile", "Facebook", "iOS", False),
    ),
    "ipad_safari": (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        Device("tablet", "Mobile Safari", "iOS", False),
    ),
    "android_phone_chrome": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        Device("mobile", "Chrome Mobile", "Android", False),
    ),
    "android_phone_samsung": (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        Device("mobile", "Samsung Internet", "Android", False),
    ),
    "android_phone_firefox": (
        "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
        Device("mobile", "Firefox Mobile", "Android", False),
    ),
    "android_tablet_chrome": (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        Device("tablet", "Chrome", "Android", False),
    ),
    "android_tablet_kindle": (
        "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/126.1.1 "
        "like Chrome/126.0.6478.126 Safari/537.36",
        Device("tablet", "Amazon Silk", "Android", False),
    ),
    "windows_chrome": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        Device("desktop", "Chrome", "Windows", False),
    ),
    "windows_edge": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
        Device("desktop", "Edge", "Windows", False),
    ),
    "windows_firefox": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        Device("desktop", "Firefox", "Windows", False),
    ),
    "macos_safari": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        Device("desktop", "Safari", "Mac OS X", False),
    ),
    "macos_firefox": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
        Device("desktop", "Firefox", "Mac OS X", False),
    ),
    "linux_firefox": (
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        Device("desktop", "Firefox", "Linux", False),
    ),
    "chromebook": (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        Device("desktop", "Chrome", "Chrome OS", False),
    ),
    "googlebot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        Device("bot", "Googlebot", "Other", True),
    ),
    "googlebot_smartphone": (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        Device("bot", "Googlebot", "Android", True),
    ),
    "bingbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
        "Chrome/116.0.1938.76 Safari/537.36",
        Device("bot", "bingbot", "Other", True),
    ),
    "facebook_crawler": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        Device("bot", "FacebookBot", "Other", True),
    ),
    "headless_chrome": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
        Device("bot", "HeadlessChrome", "Linux", True),
    ),
    "curl": ("curl/8.5.0", Device("bot", "curl", "Other", True)),
    "python_requests": ("python-requests/2.32.3", Device("bot", "Python Requests", "Other", True)),
    "empty": ("", Device("other", "Other", "Other", False)),
    "blank": ("   ", Device("other", "Other", "Other", False)),
    "gibberish": ("zzzz", Device("other", "Other", "Other", False)),
    "smart_tv": (
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
        Device("other", "Safari", "Tizen", False),
    ),
    "playstation": (
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
        Device("other", "Safari", "Other", False),
    ),
}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_common_agents_get_device_type_browser_and_os_family(name):
    agent, expected = AGENTS[name]
    assert classify(agent) == expected


def test_a_missing_user_agent_is_other():
    assert classify(None) == Device("other", "Other", "Other", False)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_no_versions_or_device_models_are_kept(name):
    agent, _ = AGENTS[name]
    device = classify(agent)
    assert device.device_type in ("mobile", "tablet", "desktop", "bot", "other")
    for family in (device.browser_family, device.os_family):
        assert not re.search(r"\d", family), family
    for model in ("Pixel", "SM-S918B", "SM-X710", "KFTRWI", "Nexus", "iPhone15"):
        assert model not in repr(device)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; ZorgProbeBot/3.1; +https://probe.example/zorg-ab12)",
        "ZorgProbeBot/3.1",
        # ua-parser's generic crawler rule makes a family out of "com/bot" here.
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot",
    ],
)
def test_unknown_crawlers_are_bots_named_other_never_by_text_from_the_agent(agent):
    assert classify(agent) == Device("bot", "Other", "Other", True)


def test_an_unknown_browser_name_from_the_agent_is_never_kept():
    device = classify("Mozilla/5.0 (X11; Linux x86_64) DistinctiveBrowser/9.8.7-cookiegate-privacy-probe")
    assert device == Device("desktop", "Other", "Linux", False)


# -- client hints ----------------------------------------------------------------------

REDUCED_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)
REDUCED_ANDROID_NOT_MOBILE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
LINUX_CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
WINDOWS_CHROME = AGENTS["windows_chrome"][0]


@pytest.mark.parametrize(
    "agent, mobile, platform, expected",
    [
        (REDUCED_ANDROID_PHONE, "?1", '"Android"', Device("mobile", "Chrome Mobile", "Android", False)),
        (REDUCED_ANDROID_NOT_MOBILE, "?0", '"Android"', Device("tablet", "Chrome", "Android", False)),
        # A phone asking for the desktop site sends a Linux agent, but the hints still say Android.
        (LINUX_CHROME, "?0", '"Android"', Device("tablet", "Chrome", "Android", False)),
        (LINUX_CHROME, "?1", '"Android"', Device("mobile", "Chrome", "Android", False)),
        (LINUX_CHROME, "?0", '"Chrome OS"', Device("desktop", "Chrome", "Chrome OS", False)),
        (WINDOWS_CHROME, "?0", '"Windows"', Device("desktop", "Chrome", "Windows", False)),
        (WINDOWS_CHROME, None, '"macOS"', Device("desktop", "Chrome", "Mac OS X", False)),
        # Desktop Chrome emulating a phone in developer tools: the hints tell the truth.
        (AGENTS["android_phone_chrome"][0], "?0", '"Linux"', Device("desktop", "Chrome Mobile", "Linux", False)),
        # Unknown or malformed hints are ignored; their text is never kept.
        (WINDOWS_CHROME, "maybe", '"Zorgix-OS-77"', Device("desktop", "Chrome", "Windows", False)),
        (WINDOWS_CHROME, "", '"Unknown"', Device("desktop", "Chrome", "Windows", False)),
        (WINDOWS_CHROME, "?1 ", '  "Windows"  ', Device("mobile", "Chrome", "Windows", False)),
        # A bot stays a bot whatever it claims.
        (AGENTS["googlebot"][0], "?1", '"Android"', Device("bot", "Googlebot", "Other", True)),
        ("", "?1", '"Android"', Device("mobile", "Other", "Android", False)),
    ],
)
def test_client_hints_correct_the_device_type_and_platform(agent, mobile, platform, expected):
    assert classify(agent, mobile, platform) == expected


# -- cache and size --------------------------------------------------------------------


def test_a_burst_of_identical_agents_costs_one_parse():
    parse_agent.cache_clear()
    agent = AGENTS["android_phone_chrome"][0]
    results = {classify(agent, hint, '"Android"') for hint in ["?1"] * 60 + ["?0"] * 40}
    assert len(results) == 2  # the hints still apply on a cache hit
    info = parse_agent.cache_info()
    assert (info.misses, info.hits) == (1, 99)
    classify(AGENTS["windows_edge"][0])
    assert parse_agent.cache_info().misses == 2


def test_the_cache_is_bounded():
    assert parse_agent.cache_info().maxsize == useragent.CACHE_SIZE > 0


def test_only_the_first_characters_of_a_huge_agent_are_parsed_or_cached():
    parse_agent.cache_clear()
    huge = AGENTS["windows_firefox"][0] + " " + "x" * 100_000
    assert classify(huge) == Device("desktop", "Firefox", "Windows", False)
    classify(huge[:MAX_AGENT])
    info = parse_agent.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 1, 1)


def test_the_native_parser_is_installed():
    # ua-parser-rs (requirements.txt) keeps a cold parse in microseconds; the pure-Python fallback takes ~1 ms.
    import ua_parser

    assert ua_parser.BestAvailableResolver is not ua_parser.BasicResolver


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_plain_browsers_classified_without_the_device_rules_agree_with_the_full_parse(name, monkeypatch):
    agent, expected = AGENTS[name]
    parse_agent.cache_clear()
    monkeypatch.setattr(useragent, "_robot_words", lambda agent: True)  # every agent through the device rules
    full = classify(agent)
    parse_agent.cache_clear()
    monkeypatch.undo()
    assert classify(agent) == full == expected
    parse_agent.cache_clear()

"""Device families from the User-Agent and the low-entropy client hints; nothing finer.

What comes out: a device type (`mobile`, `tablet`, `desktop`, `bot`, `other`),
a browser family and an OS family, and whether the client is a bot. No
versions, no device model, never the raw string.

Families are ua-parser's names ("Chrome Mobile", "Mobile Safari", "Mac OS X"),
but only names from the fixed lists below are kept; anything else becomes
"Other". ua-parser copies some names out of the agent string itself (a crawler
calling itself "AcmeVisitorTracker123Bot" would come out as exactly that), and
free text from a request must never reach the database.

Decisions for the edge cases:
- Crawlers (ua-parser's "Spider" device) and HTTP libraries, command-line
  tools and headless browsers (curl, Wget, python-requests, HeadlessChrome, …)
  are `bot` with is_bot set: none of them is a person answering a banner.
- An empty or unrecognised agent is `other`, not a bot: nothing shows it is one.
- iPadOS asks for desktop sites with a Mac agent; without client hints (Safari
  sends none) such an iPad counts as a `desktop` Mac.
- Smart TVs, consoles and other unknown hardware are `other`.
- cookiegate's own pre-consent audit (AUDIT_AGENT in the agent, docs/audit.md) is a
  `bot` with is_audit set: its consents are answered but not logged, its banner
  displays not counted.

Parsing is cached per agent string (bounded LRU), so a burst of identical
agents costs one parse; only the first MAX_AGENT characters are parsed. A plain
browser agent (known browser, known system, no crawler words) is classified
without ua-parser's device rules, a third of a cold parse: whether it is a
phone or a tablet shows in the agent itself ("iPad", Android without "Mobile").
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Optional

import ua_parser

log = logging.getLogger(__name__)

MAX_AGENT = 512
# The product token of cookiegate's pre-consent audit (cookiegate/siteaudit).
AUDIT_AGENT = "cookiegate-audit/"
CACHE_SIZE = 4096
FAMILY_MAX = 60  # ConsentRecord.browser_family / os_family

BROWSERS = frozenset({
    "Amazon Silk", "Brave", "Chrome", "Chrome Mobile", "Chrome Mobile WebView", "Chrome Mobile iOS", "Chromium",
    "Coc Coc", "DuckDuckGo", "DuckDuckGo Mobile", "Ecosia Android", "Ecosia iOS", "Edge", "Edge Mobile",
    "Facebook", "Facebook Messenger", "Firefox", "Firefox Beta", "Firefox Focus", "Firefox Mobile", "Firefox iOS",
    "Google", "Huawei Browser", "IE", "IE Mobile", "Instagram", "LINE", "MiuiBrowser", "Mobile Safari",
    "Mobile Safari UI/WKWebView", "Oculus Browser", "Opera", "Opera GX", "Opera Mini", "Opera Mobile",
    "Opera Touch", "Pinterest", "QQ Browser", "Safari", "Samsung Internet", "Snapchat", "TikTok", "UC Browser",
    "Vivaldi", "WeChat Browser", "Whale", "Yandex Browser",
})
BOTS = frozenset({
    # Crawlers and previewers.
    "AdsBot-Google", "AdsBot-Google-Mobile", "AhrefsBot", "Applebot", "Baiduspider", "BingPreview", "Bytespider",
    "ClaudeBot", "Discordbot", "DotBot", "DuckDuckBot", "FacebookBot", "Google-InspectionTool", "GoogleOther",
    "Googlebot", "Googlebot-Image", "Googlebot-News", "Googlebot-Video", "GPTBot", "LinkedInBot", "MJ12bot",
    "Mediapartners-Google", "PerplexityBot", "PetalBot", "PingdomBot", "Pinterestbot", "SemrushBot", "SeznamBot",
    "Slackbot", "Slackbot-LinkExpanding", "Spider", "Storebot-Google", "TelegramBot", "Twitterbot", "UptimeRobot",
    "WhatsApp", "YandexBot", "bingbot", "msnbot",
    # Programs, not people.
    "Apache-HttpClient", "Go-http-client", "HeadlessChrome", "Java", "PhantomJS", "Python Requests",
    "Python aiohttp", "Python-urllib", "Wget", "axios", "curl", "libwww-perl", "okhttp",
})
OPERATING_SYSTEMS = frozenset({
    "Android", "BlackBerry OS", "BlackBerry Tablet OS", "Chrome OS", "Debian", "Fedora", "Firefox OS", "FreeBSD",
    "Fuchsia", "HarmonyOS", "KaiOS", "Linux", "Mac OS X", "NetBSD", "OpenBSD", "Red Hat", "Solaris", "Symbian OS",
    "Tizen", "Ubuntu", "WatchOS", "Web0S", "Windows", "Windows Mobile", "Windows Phone", "iOS", "tvOS", "webOS",
})
DESKTOP_OS = frozenset({
    "Chrome OS", "Debian", "Fedora", "FreeBSD", "Linux", "Mac OS X", "NetBSD", "OpenBSD", "Red Hat", "Solaris",
    "Ubuntu", "Windows",
})
MOBILE_OS = frozenset({"BlackBerry OS", "KaiOS", "Symbian OS", "Windows Mobile", "Windows Phone", "iOS"})
TABLET_DEVICES = frozenset({
    "BlackBerry Playbook", "Galaxy Tab", "Kindle", "Kindle Fire", "Kindle Fire HD", "Xoom", "iPad",
})
MOBILE_DEVICES = frozenset({"Generic Feature Phone", "Generic Smartphone", "iPhone", "iPod"})
MOBILE_BROWSERS = frozenset({"IE Mobile", "Opera Mini", "Opera Mobile"})
# Sec-CH-UA-Platform values (RFC 8941 strings) in ua-parser's spelling.
PLATFORMS = {
    "android": "Android", "chrome os": "Chrome OS", "chromium os": "Chrome OS", "fuchsia": "Fuchsia",
    "ios": "iOS", "linux": "Linux", "macos": "Mac OS X", "windows": "Windows",
}


@dataclass(frozen=True)
class Device:
    device_type: str = ""
    browser_family: str = ""
    os_family: str = ""
    is_bot: bool = False
    is_audit: bool = False


OTHER = Device("other", "Other", "Other", False)
AUDIT = Device("bot", "Other", "Other", True, True)


@functools.cache
def _resolver() -> ua_parser.Resolver:
    # Our own LRU below is the one cache, so the resolver is used without ua-parser's.
    # With ua-parser-rs installed this is the native resolver (a cold parse in tens of microseconds).
    fast = ua_parser.BestAvailableResolver is not ua_parser.BasicResolver
    matchers = ua_parser.load_lazy_builtins() if fast else ua_parser.load_builtins()
    return ua_parser.BestAvailableResolver(matchers)


# Words crawlers, tools and monitors put in their agents. An agent with none of them, from a
# known browser on a known system, is told apart without ua-parser's device rules, which are
# a third of a cold parse; everything else gets them (they know the crawlers).
_ROBOT_WORDS = (
    "bot", "crawl", "spider", "slurp", "archiv", "index", "scrap", "fetch", "headless", "monitor", "preview",
    "check", "scan", "probe", "http", "python", "java", "curl", "wget", "perl", "ruby", "php", "node", "okhttp",
    "axios", "go-", "lib", "client", "tool", "test",
)


def _robot_words(agent: str) -> bool:
    # Substring tests, not one regex: Python's re tries every alternative at every position.
    lowered = agent.lower()
    return any(word in lowered for word in _ROBOT_WORDS)


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_agent(agent: str) -> Device:
    """Families of one agent string (already cut to MAX_AGENT); cached, see parse_agent.cache_info()."""
    if not agent.strip():
        return OTHER
    if AUDIT_AGENT in agent:
        return AUDIT
    resolve = _resolver()
    try:
        result = resolve(agent, ua_parser.Domain.USER_AGENT | ua_parser.Domain.OS)
        browser = result.user_agent.family if result.user_agent else "Other"
        system = result.os.family if result.os else "Other"
        if browser in BROWSERS and system in OPERATING_SYSTEMS and not _robot_words(agent):
            device_family, brand = _apple_device(agent), ""
        else:
            device = resolve(agent, ua_parser.Domain.DEVICE).device
            device_family, brand = (device.family, device.brand or "") if device else ("", "")
    except Exception as error:  # noqa: BLE001 - an odd agent must not cost the visitor their consent
        log.warning("user-agent parsing failed (%s)", type(error).__name__)
        return OTHER
    is_bot = device_family == "Spider" or browser in BOTS

    os_family = system if system in OPERATING_SYSTEMS else "Other"
    if is_bot:
        return Device("bot", browser if browser in BOTS else "Other", os_family, True)
    browser_family = browser if browser in BROWSERS else "Other"

    if device_family in TABLET_DEVICES or brand == "Generic_Android_Tablet":
        kind = "tablet"
    elif device_family in MOBILE_DEVICES or browser in MOBILE_BROWSERS or system in MOBILE_OS:
        kind = "mobile"
    elif system in ("Android", "Firefox OS", "HarmonyOS"):
        # Android phones say "Mobile"; tablets don't.
        kind = "mobile" if "Mobile" in agent else "tablet"
    elif system in DESKTOP_OS:
        kind = "desktop"
    else:
        kind = "other"
    return Device(kind, browser_family, os_family, False)


def _apple_device(agent: str) -> str:
    if "iPad" in agent:
        return "iPad"
    return "iPhone" if "iPhone" in agent or "iPod" in agent else ""


def _hint_platform(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return PLATFORMS.get(value.strip()[:40].strip('"').strip().lower())


def _hint_mobile(value: Optional[str]) -> Optional[bool]:
    value = (value or "").strip()
    return True if value == "?1" else False if value == "?0" else None


def classify(agent: Optional[str], mobile_hint: Optional[str] = None, platform_hint: Optional[str] = None) -> Device:
    """Device families from the User-Agent, corrected by Sec-CH-UA-Mobile / Sec-CH-UA-Platform when sent.

    Chromium freezes the agent string (every Android is "Android 10; K", every
    Windows "NT 10.0"); the hints still tell mobile from not and the real platform.
    """
    parsed = parse_agent((agent or "")[:MAX_AGENT])
    if parsed.is_bot:
        return parsed
    platform = _hint_platform(platform_hint)
    mobile = _hint_mobile(mobile_hint)
    if platform is None and mobile is None:
        return parsed
    os_family = platform or parsed.os_family
    kind = parsed.device_type
    if mobile is True:
        kind = "mobile"
    elif mobile is False:
        if kind == "tablet" or os_family == "Android":
            # Not a phone, on Android: a tablet (or a phone asking for the desktop site).
            kind = "tablet"
        elif os_family in DESKTOP_OS or kind == "mobile":
            kind = "desktop"
    elif kind == "other" and os_family in DESKTOP_OS:
        kind = "desktop"
    return Device(kind, parsed.browser_family, os_family[:FAMILY_MAX], False)

"""The pre-consent audit: passes over a live site, then a verdict (docs/audit.md).

`run_audit(url, ...)` is the plain function the CLI calls; it needs no Flask app. It returns an
`Audit`: the report dict (the JSON report) and the screenshots.

The five passes (no choice, "Reject all", "Accept all", and a returning visitor's preset consent
cookie for each choice) run at the same time, each in its own context of one Chromium: a fresh
profile with its own proxy (proxy.py), so what one pass sets never reaches another and every
address the page makes the browser reach is checked (addresses.py).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import platform
import sys
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import quote, urlsplit

from publicsuffixlist import PublicSuffixList

from .addresses import AddressPolicy, NotResolved, Resolver, is_ip, split_chromium_args
from .classify import Declaration
from .crawl import (
    AGENT_NAME,
    AGENT_VERSION,
    BUTTON,
    CHROMIUM,
    LAUNCH_ARGS,
    REFUSED_FLAGS,
    VIEWPORT,
    Observations,
    Recorder,
    fetch_json,
    find_embed,
    origin_of,
    read_robots,
    same_origin_links,
    settle,
    strip_query,
    user_agent,
)
from .proxy import AuditProxy, Refusal
from .report import build_report

PASSES = ("no_choice", "rejected", "accepted")
ACTIONS = {"rejected": "reject_all", "accepted": "accept_all"}
# The service's error codes (the API's, /api/v1/openapi.json) in the words the report uses.
REFUSALS = {
    "origin_not_allowed": "this page's origin is not one of the site's origins",
    "unknown_site": "the service does not know the site key on the page",
    "policy_version_changed": "the banner sent an outdated policy version",
    "invalid_choices": "the banner sent choices the service does not accept",
    "invalid_json": "the banner sent something that is not JSON",
}
_suffixes = PublicSuffixList()


class AuditError(Exception):
    """The audit could not run at all (no browser, a URL that is not a web page)."""


@dataclass
class Options:
    pages: int = 0  # same-origin links to follow beyond the URL
    dwell: float = 1.5  # seconds a settled page is left alone for timers and late tags
    idle_timeout: float = 5.0  # at most this long waiting for the network to go quiet
    page_timeout: float = 30.0  # a page that does not load in this time is recorded as failed
    choice_timeout: float = 10.0  # the service's answer to a click
    max_seconds: float = 600.0  # the whole audit; pages not reached are reported as skipped
    locale: str = "da-DK"
    chromium: str = CHROMIUM
    chromium_args: tuple[str, ...] = ()
    screenshots: bool = True


@dataclass
class PassResult:
    name: str
    seen: Observations
    token: bool = False
    error: Optional[str] = None
    pages: list[str] = field(default_factory=list)
    page_errors: list[dict[str, str]] = field(default_factory=list)
    choice: Optional[dict[str, Any]] = None
    started_at: str = ""
    finished_at: str = ""
    timing: tuple[float, float] = (0.0, 0.0)  # seconds since the audit started: (start, end)
    left_for: Optional[str] = None  # where the page tried to take the browser (not followed)


@dataclass
class Audit:
    report: dict[str, Any]
    screenshots: dict[str, bytes]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def registrable_domain(host: str) -> str:
    """shop.example.dk for www.shop.example.dk; an address or a single label stands for itself."""
    host = host.lower().strip("[]")
    if is_ip(host):
        return host
    return _suffixes.privatesuffix(host) or host


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuditError(f"not a web page address: {url!r} (give http:// or https://)")
    return url


def service_of(embed: Optional[dict[str, str]]) -> tuple[Optional[str], Optional[str]]:
    """(the service's base URL, a warning) from the page's embed tag. Only http(s): the page
    chooses this address, so it may name anything (file:, javascript:, another host)."""
    src = (embed or {}).get("src", "")
    if not src:
        return None, None
    parts = urlsplit(src)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"the page's embed tag names a service at {parts.scheme or '?'}: (ignored: only http and https)"
    base = parts.path.split("/banner/v1/cookiegate")[0].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{base}", None


class Pages:
    """The pages of the audit: the first pass grows the list as it finds links, the others follow."""

    def __init__(self, first: str):
        self.items = [first]
        self.done = False
        self._changed = asyncio.Event()

    def add(self, url: str) -> None:
        self.items.append(url)
        self._changed.set()

    def close(self) -> None:
        self.done = True
        self._changed.set()

    async def __aiter__(self):
        index = 0
        while True:
            if index < len(self.items):
                yield self.items[index]
                index += 1
            elif self.done:
                return
            else:
                self._changed.clear()
                await self._changed.wait()


class Runner:
    def __init__(self, browser, url: str, options: Options, agent: str, deadline: float, resolver: Resolver, policy: AddressPolicy):
        self.browser, self.url, self.options, self.agent, self.deadline = browser, url, options, agent, deadline
        self.started = deadline - options.max_seconds
        self.resolver, self.policy = resolver, policy
        self.origin = origin_of(url)
        self.site_host = (urlsplit(url).hostname or "").lower()
        self.site_domain = registrable_domain(self.site_host)
        self.screenshots: dict[str, bytes] = {}
        self.skipped: list[dict[str, str]] = []
        self.embed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.crawl_delay = 0.0

    async def new_context(self, on_refusal: Callable[[Refusal], None]):
        """A fresh profile whose every connection goes through a proxy of its own."""
        proxy = AuditProxy(self.resolver, self.policy, on_refusal)
        server = await proxy.start()
        context = await self.browser.new_context(
            user_agent=self.agent,
            viewport=VIEWPORT,
            locale=self.options.locale,
            proxy={"server": server, "bypass": "<-loopback>"},  # loopback too goes through the proxy
            service_workers="block",  # a service worker's requests would escape the recorder
        )
        context.set_default_timeout(self.options.page_timeout * 1000)
        return context, proxy, server

    async def _visit(self, page, url: str, result: PassResult) -> Optional[str]:
        result.left_for = None
        try:
            response = await page.goto(url, wait_until="load", timeout=self.options.page_timeout * 1000)
        except Exception as error:  # noqa: BLE001 - the failure is part of the evidence
            if self._left(page):
                return self._left_message(page)
            return f"the page did not load: {str(error).splitlines()[0][:200]}"
        await settle(page, self.options.dwell, self.options.idle_timeout)
        if self._left(page):
            return self._left_message(page)
        if result.left_for:
            return f"the page tried to take the browser to {result.left_for}, another origin; the audit does not follow it (audit that address instead)"
        if response is not None and response.status >= 400:
            return f"the page answered HTTP {response.status}"
        return None

    def _left(self, page) -> bool:
        return page.url.startswith(("http://", "https://")) and origin_of(page.url) != self.origin

    def _left_message(self, page) -> str:
        return f"the page sent the browser to {strip_query(page.url)}, another origin; the audit does not follow it (audit that address instead)"

    async def _shoot(self, page, name: str, index: int, result: PassResult, url: str) -> None:
        if not self.options.screenshots or self._left(page) or not page.url.startswith(("http://", "https://")):
            return
        file = f"{name}-{index + 1}.jpg"
        try:
            self.screenshots[file] = await page.screenshot(type="jpeg", quality=70, timeout=10_000)
        except Exception:  # noqa: BLE001 - no picture is no reason to lose the rest
            return
        result.seen.screenshots.append({"page": url, "final_url": strip_query(page.url), "file": file})

    async def _click(self, page, recorder: Recorder, action: str, result: PassResult) -> Optional[str]:
        """Click the banner's button and check that the choice was recorded: the service answered
        201 and the consent cookie is in the jar. A banner that cannot record a choice fails."""
        button = page.locator(BUTTON.format(action=action))
        try:
            await button.wait_for(state="visible", timeout=min(10.0, self.options.page_timeout) * 1000)
        except Exception:  # noqa: BLE001
            result.choice = {"action": action, "recorded": False, "status": None, "code": "", "cookie": False,
                             "reason": f'the banner\'s "{action}" button did not appear'}
            return f'the banner\'s "{action}" button ([data-cookiegate-action={action}]) did not appear'
        answer_future = recorder.expect_consent()
        await button.click()
        try:
            answer = await asyncio.wait_for(asyncio.shield(answer_future), self.options.choice_timeout)
        except asyncio.TimeoutError:
            answer = None
        await settle(page, self.options.dwell, self.options.idle_timeout)
        cookie = any(c["name"] == "cookiegate" for c in await page.context.cookies())
        reason = None
        if answer is None:
            reason = f"the banner sent no choice to the service within {self.options.choice_timeout:.0f} s"
        elif answer.failure:
            reason = f"the choice could not be sent to the service ({answer.failure})"
        elif answer.status != 201:
            words = REFUSALS.get(answer.code) or (
                "too many requests" if answer.status == 429 else f"HTTP {answer.status}" + (f" {answer.code}" if answer.code else "")
            )
            reason = f"the service refused the choice: {words}" if answer.status < 500 else f"the service could not record the choice ({words})"
        elif not cookie:
            reason = "the service recorded the choice, but the consent cookie is not in the browser's cookie jar"
        result.choice = {
            "action": action,
            "recorded": reason is None,
            "status": answer.status if answer and answer.status else None,
            "code": answer.code if answer else "",
            "cookie": cookie,
            "reason": reason or "",
        }
        return reason

    async def run_pass(self, name: str, pages: Pages, token: Optional[str] = None, discover: Optional[Callable] = None) -> PassResult:
        """One fresh profile over the pages; the first page gets the banner click (or starts with `token`)."""
        result = PassResult(name, Observations(), token=token is not None, started_at=_now())
        begun = time.monotonic() - self.started
        label = name + ("-token" if token else "")
        recorder: Optional[Recorder] = None

        def refused(refusal: Refusal) -> None:
            result.seen.blocked.append({"target": refusal.target, "reason": refusal.reason, "page": recorder.page if recorder else ""})

        context, proxy, _ = await self.new_context(refused)
        try:
            recorder = Recorder(context, self.site_host, self.site_domain)
            result.seen = recorder.seen
            result.seen.blocked = []
            await recorder.install()

            async def guard(route, request) -> None:
                reason = self._refuse(request)
                if reason is None:
                    await route.continue_()
                    return
                if reason.startswith("a navigation"):
                    result.left_for = strip_query(request.url)
                if len(result.seen.blocked) < 200:
                    result.seen.blocked.append({"target": strip_query(request.url), "reason": reason, "page": recorder.page})
                await route.abort("blockedbyclient")

            await context.route("**/*", guard)
            if token:
                await context.add_cookies([{"name": "cookiegate", "value": token, "url": self.url}])
            page = await context.new_page()
            index = 0
            async for url in pages:
                if time.monotonic() > self.deadline:
                    self.skipped.append({"url": url, "reason": f"time limit ({self.options.max_seconds:.0f} s) reached in pass {label}"})
                    if discover is not None:
                        await discover(None)
                    continue
                recorder.page = url
                result.pages.append(url)
                error = await self._visit(page, url, result)
                if index == 0 and not self.embed.done():
                    embed = None if error else await find_embed(page)
                    if not self.embed.done():
                        self.embed.set_result(embed)
                if index == 0 and name in ACTIONS and token is None:
                    error = error or await self._click(page, recorder, ACTIONS[name], result)
                    await recorder.collect(page)
                    if error is None:
                        # The same page again with the choice made: what a returning visitor gets.
                        error = await self._visit(page, url, result)
                if error and index == 0:
                    result.error = error
                elif error:
                    result.page_errors.append({"url": url, "error": error})
                if not self._left(page):
                    await recorder.collect(page)
                await self._shoot(page, label, index, result, url)
                if discover is not None:
                    await discover(page)
                index += 1
                if self.crawl_delay and len(pages.items) > index:
                    await page.wait_for_timeout(self.crawl_delay * 1000)
            recorder.finish()
        except Exception as error:  # noqa: BLE001 - a check that breaks off fails; the others go on
            result.error = result.error or f"the check stopped: {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            if recorder is not None:
                recorder.finish()
        finally:
            if not self.embed.done():
                self.embed.set_result(None)
            if discover is not None:
                pages.close()  # whatever happened, the other passes must not wait for more pages
            await context.close()
            await proxy.close()
        result.finished_at = _now()
        result.timing = (round(begun, 2), round(time.monotonic() - self.started, 2))
        return result

    def _refuse(self, request) -> Optional[str]:
        """Why a request of the audited page is not let through, or None. A page may not take the
        audit elsewhere: a top-level navigation to another origin is not followed, and nothing
        more loads for a page that a redirect took elsewhere."""
        frame = request.frame
        try:
            main = frame.parent_frame is None
        except Exception:  # noqa: BLE001 - a request from a detached frame
            return None
        if not main or not request.url.startswith(("http://", "https://")):
            return None
        if request.is_navigation_request():
            if origin_of(request.url) != self.origin:
                return "a navigation to another origin: not followed"
        elif frame.url.startswith(("http://", "https://")) and origin_of(frame.url) != self.origin:
            return "loaded by a page on another origin: not loaded"
        return None


async def _discoverer(runner: Runner, pages: Pages, limit: int):
    """For the first pass: follow same-origin links, breadth first, robots.txt permitting."""
    if limit <= 0:
        pages.close()
        return None
    context, proxy, _ = await runner.new_context(lambda refusal: None)
    try:
        robots = await read_robots(context, _origin_url(runner.url), runner.options.page_timeout)
    finally:
        await context.close()
        await proxy.close()
    delay = robots.crawl_delay(AGENT_NAME)
    runner.crawl_delay = min(float(delay), 10.0) if delay else 0.0
    considered = {runner.url}
    visited = 0

    async def more(page) -> None:
        """After each page of the first pass (None: a page skipped for time)."""
        nonlocal visited
        visited += 1
        for link in await same_origin_links(page, runner.origin) if page is not None else ():
            if link in considered or len(pages.items) > limit:
                continue
            considered.add(link)
            if not robots.can_fetch(AGENT_NAME, link):
                runner.skipped.append({"url": link, "reason": "robots.txt disallows it"})
                continue
            pages.add(link)
        if visited >= len(pages.items):
            pages.close()

    return more


def _origin_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Service:
    """What the audit learns from the cookiegate service: declaration, tokens, or why not."""

    site_key: Optional[str] = None
    url: Optional[str] = None
    declaration: Declaration = field(default_factory=Declaration)
    tokens: dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None
    warnings: list[str] = field(default_factory=list)


def _embedded(embed: Optional[dict[str, str]], site_key: Optional[str]) -> Service:
    """The site key and service the page's embed tag names (the page chooses them: checked)."""
    service_url, warning = service_of(embed)
    found = Service(site_key=site_key or (embed or {}).get("site") or None, url=service_url)
    if warning:
        found.warnings.append(warning)
    if embed and embed.get("site") and site_key and site_key != embed["site"]:
        found.warnings.append(f"the page embeds the banner of site {embed['site']!r}, not {site_key!r}")
    return found


async def _ask_service(runner: Runner, found: Service, declaration: Optional[Declaration]) -> Service:
    """Without `--site`: the declaration and two real tokens from the service the page embeds,
    through the audit's proxy (the same address rules as the browser), key quoted whole."""
    if not found.site_key:
        found.error = "the site key is not known (no --site and no cookiegate embed tag on the page), so no token could be preset"
        return found
    if not found.url:
        found.error = "the page has no usable cookiegate embed tag, so there is no service to ask for a token"
        return found
    key = quote(found.site_key, safe="")
    proxy = AuditProxy(runner.resolver, runner.policy)
    proxy_url = await proxy.start()
    try:
        if declaration is None:
            try:
                config = await asyncio.to_thread(fetch_json, f"{found.url}/api/v1/sites/{key}/config", runner.agent, runner.options.page_timeout, proxy_url)
                found.declaration = Declaration.from_config(config, "config") if isinstance(config, dict) else Declaration()
            except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
                found.declaration = Declaration()
        for name, method in ACTIONS.items():
            body = {"method": method, "choices": {}, "policy_version": found.declaration.policy_version, "url": strip_query(runner.url), "language": ""}
            try:
                answer = await asyncio.to_thread(
                    fetch_json, f"{found.url}/api/v1/sites/{key}/consents", runner.agent, runner.options.page_timeout, proxy_url, body, _origin_url(runner.url)
                )
                found.tokens[name] = str(answer["token"])
            except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as error:
                found.error = f"the service gave no token ({type(error).__name__}: {str(error)[:160]})"
                found.tokens.clear()
                break
    finally:
        await proxy.close()
    return found


def run_audit(url: str, **kwargs: Any) -> Audit:
    """Audit `url` (and up to options.pages linked pages): the report and the screenshots.

    Keyword arguments: site_key, declaration and tokens (what `--site` reads from this service;
    else asked of the service the page embeds), options, progress, command_line.
    Runs in a thread of its own with its own event loop, so a caller that drives a browser
    itself (the tests, a web view) can call this as well.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="siteaudit") as pool:
        return pool.submit(lambda: asyncio.run(_run_audit(url, **kwargs))).result()


async def _run_audit(
    url: str,
    *,
    site_key: Optional[str] = None,
    declaration: Optional[Declaration] = None,
    tokens: Optional[dict[str, str]] = None,
    options: Optional[Options] = None,
    progress: Callable[[str], None] = lambda message: None,
    command_line: Optional[list[str]] = None,
) -> Audit:
    from importlib.metadata import version

    try:
        from playwright.async_api import Error as PlaywrightError, async_playwright
    except ImportError:  # a production install without the extra (pyproject.toml)
        raise AuditError("the audit needs Playwright: pip install 'cookiegate[audit]' (or -r requirements-audit.txt) and Chromium") from None

    options = options or Options()
    url = _check_url(url)
    chromium_args, rules = split_chromium_args(options.chromium_args)
    refused_flags = [a for a in chromium_args if a.split("=")[0] in REFUSED_FLAGS]
    if refused_flags:
        raise AuditError(f"{refused_flags[0].split('=')[0]} cannot be used: the audit sends everything through its own proxy, which checks each address")
    try:
        resolver = Resolver.from_rules(rules)
    except ValueError as error:
        raise AuditError(f"--host-resolver-rules: {error}") from None
    host = urlsplit(url).hostname or ""
    try:
        audited, _ = await resolver.resolve(host, urlsplit(url).port or 80)
    except NotResolved as error:
        raise AuditError(f"the address of {host} is not known ({error})") from None
    policy = AddressPolicy.for_audited(audited)
    started = time.monotonic()
    started_at = _now()
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=options.chromium, args=[*LAUNCH_ARGS, *chromium_args])
        except PlaywrightError as error:
            raise AuditError(f"Chromium could not start ({options.chromium}): {str(error).splitlines()[0]}. `make chromium` installs it.") from None
        try:
            agent = user_agent(browser.version)
            runner = Runner(browser, url, options, agent, started + options.max_seconds, resolver, policy)
            pages = Pages(url)
            discover = await _discoverer(runner, pages, options.pages)
            progress(f"five passes at once: {url}")

            async def service() -> Service:
                if tokens is not None:  # --site: read from this service's database and signed here; no request
                    return Service(site_key=site_key, declaration=declaration or Declaration(), tokens=dict(tokens))
                return await _ask_service(runner, _embedded(await runner.embed, site_key), declaration)

            service_task = asyncio.ensure_future(service())

            async def token_pass(name: str) -> Optional[PassResult]:
                found = await service_task
                if name not in found.tokens:
                    return None
                return await runner.run_pass(name, pages, token=found.tokens[name])

            results = await asyncio.gather(
                runner.run_pass("no_choice", pages, discover=discover),
                runner.run_pass("rejected", pages),
                runner.run_pass("accepted", pages),
                token_pass("rejected"),
                token_pass("accepted"),
            )
            service = await service_task
            embedded = _embedded(runner.embed.result(), site_key)
            if tokens is not None:
                service.url, service.warnings = embedded.url, embedded.warnings
            browser_version = browser.version
        finally:
            await browser.close()
    passes = list(results[:3])
    token_results = [r for r in results[3:] if r is not None]
    environment = {
        "tool": "cookiegate audit",
        "tool_version": AGENT_VERSION,
        "browser": f"Chromium {browser_version}",
        "playwright": version("playwright"),
        "os": platform.platform(),
        "python": platform.python_version(),
        "command_line": list(command_line) if command_line is not None else [sys.argv[0], url],
        "address_policy": {"audited": policy.audited_class, "allowed": sorted(policy.allowed)},
    }
    report = build_report(
        url=url,
        site_key=service.site_key,
        service=service.url,
        agent=agent,
        pages=passes[0].pages or [url],
        skipped=runner.skipped,
        results=passes,
        token_results=token_results,
        token_error=service.error,
        declaration=service.declaration,
        warnings=service.warnings,
        started_at=started_at,
        finished_at=_now(),
        seconds=time.monotonic() - started,
        environment=environment,
        site_domain=runner.site_domain,
    )
    return Audit(report, runner.screenshots)


def audit(url: str, **kwargs: Any) -> dict[str, Any]:
    """Just the report dict."""
    return run_audit(url, **kwargs).report

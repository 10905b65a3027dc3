"""Shared pytest setup: fixtures live in one module per concern under tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.sandbox",
]

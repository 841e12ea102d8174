"""Session fixtures: real parts built once (a broker, model sessions, photos), and a fresh outbox per test."""

pytest_plugins = [
    "tests.support.data",
    "tests.support.models",
    "tests.support.broker",
    "tests.support.tls",
    "tests.support.events",
    "tests.support.homeassistant",
]

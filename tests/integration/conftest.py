"""Fixtures for tests that talk to the wire-level test API server.

`make_api_server(objects=..., tokens={"tok": rules}, addons=(...))` starts a
`FakeApiServer` over TLS on 127.0.0.1 and stops it after the test. `rules`
are ClusterRole-style rule lists (None: allowed everything), so a test can
prove that a given role is sufficient for a scan, or that a missing grant
shows up as `unavailable`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from apiserver import FakeApiServer, sample_cluster

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
              "NO_PROXY", "no_proxy", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


@pytest.fixture
def make_api_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeApiServer]]:
    # Only loopback traffic, whatever the developer's shell exports.
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    servers: list[FakeApiServer] = []

    def make(objects: Any = None, **kw: Any) -> FakeApiServer:
        server = FakeApiServer(sample_cluster() if objects is None else objects, **kw).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def api_server(make_api_server: Callable[..., FakeApiServer]) -> FakeApiServer:
    return make_api_server()


@pytest.fixture
def kubeconfig_for(tmp_path: Path) -> Callable[..., str]:
    """Write a kubeconfig for `server` and `token`; returns its path."""
    counter = iter(range(1000))

    def write(server: FakeApiServer, token: str = "admin-token", **kw: Any) -> str:
        return str(server.write_kubeconfig(tmp_path / f"kubeconfig-{next(counter)}", token, **kw))

    return write

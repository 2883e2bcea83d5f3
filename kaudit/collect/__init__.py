"""Sources: the only layer that touches the network, SSH or the filesystem.

A `ClusterSource` yields `ClusterFacts` (the API server, manifest dumps, the
bundled demo); a `NodeSource` yields one `NodeFacts` per host (ssh,
daemonset, local, saved files). The CLI only wires one of each together.
"""
from __future__ import annotations

import abc
from typing import Callable

from kaudit.model import ClusterFacts, NodeFacts

Progress = Callable[[str], None]


def no_progress(_message: str) -> None:
    pass


class SourceError(Exception):
    """A source cannot produce facts at all (unreachable server, unreadable
    path, bad credentials). The CLI prints it as one line; exit 2 for a bad
    input, 3 when the scan could not complete."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ClusterSource(abc.ABC):
    name: str

    @abc.abstractmethod
    def collect(self, progress: Progress = no_progress) -> ClusterFacts:
        ...

    def partial_facts(self, reason: str) -> ClusterFacts | None:
        """After `collect` was interrupted: what it had read, with everything it
        had not read yet marked unavailable (so checks needing it are ERROR,
        never PASS). None when nothing usable was read."""
        return None


class NodeSource(abc.ABC):
    name: str

    @abc.abstractmethod
    def collect(self, cluster: ClusterFacts, progress: Progress = no_progress) -> list[NodeFacts]:
        """One NodeFacts per host. A host that cannot be reached is a
        NodeFacts with `unreachable` set, never missing from the list."""

    def partial_nodes(self, reason: str) -> list[NodeFacts] | None:
        """After `collect` was interrupted: the hosts read completely, and every
        other host as not inspected (`unreachable` = `reason`). None when the
        source cannot tell (then every node counts as not inspected)."""
        return None

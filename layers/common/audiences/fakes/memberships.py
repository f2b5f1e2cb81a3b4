"""Memberships and sizes in memory, by the rule the DynamoDB store enforces with conditions."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor

from audiences.domain import MembershipChange, State, UserRef, supersedes
from audiences.ports.memberships import Mapper, Outcome

BATCH = 100  # members `qualified_before` yields at a time


class InMemoryMemberships:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, UserRef], dict[str, tuple[State, float]]] = {}
        self._sizes: Counter[tuple[str, str]] = Counter()

    def write_all(self, tenant_id: str, changes: Sequence[MembershipChange], pool: Executor) -> list[Outcome]:
        with self._lock:
            return [self._write(tenant_id, change) for change in changes]

    def _write(self, tenant_id: str, change: MembershipChange) -> Outcome:
        entries = self._entries.setdefault((tenant_id, change.user), {})
        current = entries.get(change.external_id)
        if change.expires is not None:
            applies = current == (State.QUALIFIED, change.expires)
        else:
            applies = supersedes((change.state, change.ts), current)
        if not applies:
            return Outcome.STALE
        delta = int(change.state is State.QUALIFIED) - int(current is not None and current[0] is State.QUALIFIED)
        entries[change.external_id] = (change.state, change.ts)
        self._sizes[tenant_id, change.external_id] += delta
        return Outcome(delta)

    def qualified_before(
        self, tenant_id: str, external_id: str, cutoff: float, in_parallel: Mapper = map
    ) -> Iterator[list[tuple[UserRef, float]]]:
        with self._lock:
            members = [
                (user, entries.get(external_id))
                for (tenant, user), entries in self._entries.items()
                if tenant == tenant_id
            ]
        due = sorted(
            (
                (user, entry[1])
                for user, entry in members
                if entry and entry[0] is State.QUALIFIED and entry[1] <= cutoff
            ),
            key=lambda member: member[1],
        )
        for start in range(0, len(due), BATCH):
            yield due[start : start + BATCH]

    def user_memberships(self, tenant_id: str, user: UserRef) -> dict[str, tuple[State, float]]:
        with self._lock:
            return dict(self._entries.get((tenant_id, user), {}))

    def user_memberships_in(
        self, tenant_id: str, user: UserRef, external_ids: set[str]
    ) -> dict[str, tuple[State, float]]:
        return {ext: entry for ext, entry in self.user_memberships(tenant_id, user).items() if ext in external_ids}

    def user_known(self, tenant_id: str, user: UserRef) -> bool:
        return bool(self.user_memberships(tenant_id, user))

    def audience_sizes(self, tenant_id: str, external_ids: list[str], in_parallel: Mapper = map) -> dict[str, int]:
        with self._lock:
            return {ext: self._sizes[tenant_id, ext] for ext in external_ids}

    def delete_tombstones(self, tenant_id: str, user: UserRef, tombstones: dict[str, float]) -> int:
        with self._lock:
            entries = self._entries.get((tenant_id, user), {})
            gone = [ext for ext, ts in tombstones.items() if entries.get(ext) == (State.DISQUALIFIED, ts)]
            for external_id in gone:
                del entries[external_id]
            if not entries:
                self._entries.pop((tenant_id, user), None)
            return len(gone)

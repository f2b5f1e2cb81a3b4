"""Where DynamoDB's write units land: per table, per global secondary index and per partition key.

DynamoDB serves about 1,000 write units a second per partition key, on a table and on each of
its GSIs alike, and a throttled GSI throttles the table's writes too; moto has no partitions, so
nothing local would show a key taking too large a share. The embedded DynamoDB reports every item
it writes here with the item as it was and as it is (local/moto_fidelity.py), and the index
writes follow from the table's own index definitions, which the provisioner took from
template.yaml, as DynamoDB's documented rules for GSI writes say:

- an item written: 1 write unit on the table per KB of the larger of the item before and after
  (rounded up), twice that in a transaction; a single write whose condition failed still costs
  its unit;
- an index entry appears, or disappears, or its key changes (a delete and a put), or a projected
  attribute changes: 1 write unit on the index per entry written, at that entry's partition key.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

Item = Mapping[str, dict] | None  # DynamoDB JSON: {"pk": {"S": "…"}, …}, or None for no item


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    table_keys: tuple[str, ...]
    non_key_attributes: tuple[str, ...] = ()

    def key(self, item: Item) -> tuple | None:
        """The item's entry key in the index; None if the item is not in it (the index is sparse)."""
        if item is None or self.hash_key not in item or (self.range_key and self.range_key not in item):
            return None
        return (_value(item[self.hash_key]), _value(item[self.range_key]) if self.range_key else None)

    def projected(self, item: Item) -> dict:
        if self.projection == "ALL":
            return dict(item or {})
        names = {*self.table_keys, self.hash_key, self.range_key, *self.non_key_attributes}
        return {name: value for name, value in (item or {}).items() if name in names}

    def writes(self, before: Item, after: Item) -> list[str]:
        """The partition key of each index entry the change writes (a delete or a put): one unit each."""
        old, new = self.key(before), self.key(after)
        if old == new:
            changed = new is not None and self.projected(before) != self.projected(after)
            return [new[0]] if changed else []
        return [key[0] for key in (old, new) if key is not None]


def _size(item: Item) -> int:
    """An item's size as DynamoDB counts it, near enough: its names and values as JSON."""
    return len(json.dumps(item, separators=(",", ":"), default=_binary)) if item else 0


def _binary(value: object) -> str:
    """A binary attribute counts its bytes, as DynamoDB does."""
    if isinstance(value, bytes):
        return "b" * len(value)
    raise TypeError(f"{type(value).__name__} is not an attribute value")


def _value(attribute: dict) -> str:
    [(_, value)] = attribute.items()
    return str(value)


@dataclass(frozen=True)
class Heat:
    write_units: int
    keys: int
    hottest_key: str
    hottest_units: int

    @property
    def hottest_share(self) -> float:
        return self.hottest_units / self.write_units if self.write_units else 0.0


class KeyHeat:
    """Write units by (table, index or None, partition key), from every item write the embedded DynamoDB made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.units: Counter[tuple[str, str | None, str]] = Counter()

    def reset(self) -> None:
        with self._lock:
            self.units.clear()

    def record(
        self, table: str, hash_key: str, indexes: list[Index], before: Item, after: Item, *, transactional: bool
    ) -> None:
        """One item written (`after` None: deleted; unchanged: a write whose condition failed)."""
        pk = _value((after or before)[hash_key]) if (after or before) else None
        units = max(1, math.ceil(max(_size(before), _size(after)) / 1024))
        with self._lock:
            if pk is not None:
                self.units[(table, None, pk)] += 2 * units if transactional else units
            for index in indexes:
                for key in index.writes(before, after):
                    self.units[(table, index.name, key)] += 1

    def record_failed(self, table: str, key_value: str) -> None:
        """A single write whose condition was false: DynamoDB charges its unit all the same."""
        with self._lock:
            self.units[(table, None, key_value)] += 1

    def by_table(self, names: Mapping[str, str] | None = None) -> dict[str, Heat]:
        """Per table ("MembershipsTable") and per index ("MembershipsTable/QualifiedSince"): units, keys, hottest."""
        names = names or {}
        grouped: dict[str, Counter[str]] = {}
        with self._lock:
            for (table, index, key), units in self.units.items():
                label = names.get(table, table) + (f"/{index}" if index else "")
                grouped.setdefault(label, Counter())[key] += units
        return {label: _heat(keys) for label, keys in sorted(grouped.items())}

    def overall(self) -> Heat:
        """Over every table and index: the hottest partition key's share of all the write units."""
        with self._lock:
            keys = Counter({f"{table}/{index or ''}/{key}": units for (table, index, key), units in self.units.items()})
        return _heat(keys)


def _heat(keys: Counter[str]) -> Heat:
    if not keys:
        return Heat(0, 0, "", 0)
    hottest, units = keys.most_common(1)[0]
    return Heat(sum(keys.values()), len(keys), hottest, units)


KEY_HEAT = KeyHeat()

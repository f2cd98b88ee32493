"""A plain backing store for msgraph-sdk models, installed before the first model class exists.

Every msgraph-sdk model keeps its properties twice: as attributes and in a kiota
*backing store*. kiota's default (``InMemoryBackingStore``) tracks which values
changed since construction, subscribes parents to their children and re-checks
collection sizes on every read, so that a client which enables backing-store
serialization can PATCH only what changed. msgraph-sdk never enables it (its
request adapter serialises every non-null attribute), so the tracking is pure
cost: at 1,000 apps it was about a third of ``apply``'s CPU (15 models per app,
each ``__setattr__`` going through ``set`` and ``get`` with their checks).

:class:`PlainBackingStore` keeps the same contract without the tracking: ``get``
returns what ``set`` stored, ``enumerate_`` lists it, nothing is ever "changed
to null". The generated models bind kiota's factory when their module is first
imported (``field(default_factory=...create_backing_store)``), so
:func:`install` must run before any ``msgraph.generated.models`` module is
imported; :mod:`provisioner.graph` calls it on import, and a model class defined
earlier simply keeps kiota's store (slower, same behaviour).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiota_abstractions.store.backing_store import BackingStore
from kiota_abstractions.store.backing_store_factory import BackingStoreFactory
from kiota_abstractions.store.backing_store_factory_singleton import BackingStoreFactorySingleton


class PlainBackingStore(dict[str, Any], BackingStore[Any]):
    """A dict behind the BackingStore interface: no dirty tracking, no subscriptions fired.

    It *is* the dict, and ``get``/``set`` are the dict's own C methods: every attribute a model
    sets goes through the store twice (``set``, then ``get``), about 400 times per app in an
    ``apply``, so a Python method per call was measurable. A store still behaves as an object
    elsewhere: always true, equal only to itself, and its ``repr`` never shows a value (a parsed
    password credential's store holds the secret).
    """

    __slots__ = ()

    get = dict.get  # type: ignore[assignment]
    set = dict.__setitem__  # type: ignore[assignment]
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__  # type: ignore[assignment]
    __repr__ = object.__repr__

    def __bool__(self) -> bool:
        return True

    def enumerate_(self) -> list[tuple[str, Any]]:
        return list(self.items())

    def enumerate_keys_for_values_changed_to_null(self) -> list[str]:
        return []

    def subscribe(self, callback: Callable[[str, Any, Any], None], subscription_id: str | None = None) -> str:
        return subscription_id or ""

    def unsubscribe(self, subscription_id: str) -> None:
        return None

    clear = dict.clear

    @property
    def is_initialization_completed(self) -> bool:
        return True

    @is_initialization_completed.setter
    def is_initialization_completed(self, completed: bool) -> None:
        return None

    @property
    def return_only_changed_values(self) -> bool:
        return False

    @return_only_changed_values.setter
    def return_only_changed_values(self, changed: bool) -> None:
        return None


class PlainBackingStoreFactory(BackingStoreFactory):
    def create_backing_store(self) -> BackingStore[Any]:
        return PlainBackingStore()


def install() -> None:
    """Make :class:`PlainBackingStore` the store of every msgraph model class defined from now on."""
    singleton = BackingStoreFactorySingleton()
    if not isinstance(singleton.backing_store_factory, PlainBackingStoreFactory):
        singleton.backing_store_factory = PlainBackingStoreFactory()

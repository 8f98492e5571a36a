"""Generated identities for whatever a world file leaves out: seeded per (seed, key) so runs repeat."""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any


class Identities:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    @cached_property
    def _faker(self) -> Any:
        from faker import Faker  # imported on first need: a world that names everyone never pays for it

        return Faker("en_US")

    def _for(self, key: str) -> Any:
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        self._faker.seed_instance(int.from_bytes(digest[:8], "big"))
        return self._faker

    def person(self, key: str) -> tuple[str, str, str]:
        """(given name, family name, email) for the identity named `key`."""
        fake = self._for(key)
        given, family = fake.first_name(), fake.last_name()
        return given, family, f"{given}.{family}@{fake.free_email_domain()}".lower()

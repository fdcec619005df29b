"""A users file as an AuthZEN attribute provider (PIP): subject id -> attributes.

The AuthZEN interop suite ships `users.json`, keyed by the opaque subject id the requests carry,
with each user's `id` (an email), `email`, `name` and `roles`. The PDP looks the subject up
itself rather than trusting roles sent by the caller, so this is what `attribute_provider=`
receives:

    users = UsersFile.load("users.json")
    app = AuthZENApp(policies, bearer_tokens=[token], attribute_provider=users.lookup)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any


class UsersFile:
    """Attributes per subject id, validated once at load time so lookups cannot fail."""

    def __init__(self, users: Mapping[str, Mapping[str, Any]], subject_types: tuple[str, ...] = ()):
        self.users = {str(key): dict(value) for key, value in users.items()}
        self.subject_types = subject_types

    @classmethod
    def load(cls, path: str | os.PathLike[str], subject_types: tuple[str, ...] = ()) -> UsersFile:
        """Read and check a users file; raises ValueError naming the first bad entry."""
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object keyed by subject id")
        for key, user in data.items():
            if not isinstance(user, dict):
                raise ValueError(f"{path}: user {key!r} is not a JSON object")
            roles = user.get("roles", [])
            if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
                raise ValueError(f"{path}: user {key!r} has roles that are not a list of strings")
        return cls(data, subject_types)

    def lookup(self, subject_type: str, subject_id: str) -> dict[str, Any] | None:
        """The attributes of one subject, or None when unknown (policies then see no roles).

        `subject_types` restricts which AuthZEN subject types this file describes (empty: any).
        """
        if self.subject_types and subject_type not in self.subject_types:
            return None
        user = self.users.get(subject_id)
        return dict(user) if user is not None else None

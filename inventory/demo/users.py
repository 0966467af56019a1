"""The demo logins: one per role and level, all with ``settings.ALOKON_DEMO_PASSWORD``.

Existing users are left as an administrator may have changed them; only a missing
user is created, and a password is set only for a new user, a user without a
usable password, or when the caller asks to reset them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from alokon.models import Role
from inventory.models import Location


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    location_code: str
    superuser: bool = False


DEMO_USERS = [
    DemoUser("admin", Role.ADMIN, "00", superuser=True),
    DemoUser("prov72", Role.WAREHOUSE, "72"),
    DemoUser("kab7271", Role.WAREHOUSE, "72.71"),
    DemoUser("kab7210", Role.WAREHOUSE, "72.10"),
    # Kepala gudang of Kota Palu: approves the district's stock counts.
    DemoUser("kepala7271", Role.HEAD, "72.71"),
    DemoUser("faskes7271", Role.WAREHOUSE, "72.71-001"),
    DemoUser("pkb7210", Role.FIELD, "72.10"),
    DemoUser("manajer72", Role.MANAGER, "72"),
]


def demo_password() -> str:
    return settings.ALOKON_DEMO_PASSWORD


def ensure_users(tree: dict[str, Location], *, reset_passwords: bool = False) -> dict[str, object]:
    """Create the missing demo users; return every demo user by username."""
    User = get_user_model()
    password = demo_password()
    users = {}
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "role": spec.role,
                "location": tree[spec.location_code],
                "is_staff": spec.superuser,
                "is_superuser": spec.superuser,
            },
        )
        if created or reset_passwords or not user.has_usable_password():
            user.set_password(password)
            user.save(update_fields=["password"])
        users[spec.username] = user
    return users

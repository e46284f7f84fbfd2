"""The process-wide key ring, loaded once from ``SIYU_ENCRYPTION_KEYS`` or the data directory."""

import functools
import os

from django.conf import settings

from siyu.privacy.keyring import KeyRing


@functools.cache
def keyring() -> KeyRing:
    return KeyRing.from_env_or_dir(os.environ.get("SIYU_ENCRYPTION_KEYS") or None, settings.DATA_DIR)


def reload_keyring() -> KeyRing:
    """Forget the cached ring (after a rotation) and load it again."""
    keyring.cache_clear()
    return keyring()

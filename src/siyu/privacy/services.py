"""Key rotation for personal data: add a new current key, then move every stored value onto it."""

import os

from django.conf import settings
from django.db import connection, transaction

from siyu.orgs import audit
from siyu.privacy.fields import encrypted_fields
from siyu.privacy.keyring import KeyRing
from siyu.privacy.keys import keyring, reload_keyring


def rotate_keys() -> str:
    """Make a fresh key current (old keys stay for decryption). Only for keys kept in the data directory."""
    if os.environ.get("SIYU_ENCRYPTION_KEYS"):
        raise RuntimeError("keys come from SIYU_ENCRYPTION_KEYS: put a new key first in that variable instead")
    kid = KeyRing.rotate(settings.DATA_DIR)
    reload_keyring()
    audit.record("privacy.keys_rotated", org=None, actor=None, details={"kid": kid})
    return kid


def reencrypt_all(batch: int = 500, progress=None) -> int:
    """Re-encrypt every value still under an old key; returns how many values changed.

    Reads the raw tokens (no decryption needed to find old ones) and rewrites them in batches, each batch
    in its own transaction, so a large table never holds the write lock for long and a crash loses nothing.
    """
    ring = keyring()
    changed = 0
    for model, field in encrypted_fields():
        table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
        last_id = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, {column} FROM {table} WHERE id > %s AND {column} <> '' ORDER BY id LIMIT %s",
                    [last_id, batch],
                )
                rows = cursor.fetchall()
            if not rows:
                break
            last_id = rows[-1][0]
            stale = [(pk, token) for pk, token in rows if token and ring.needs_reencrypt(token)]
            with transaction.atomic(), connection.cursor() as cursor:
                for pk, token in stale:
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE id = %s AND {column} = %s",
                        [ring.reencrypt(token, context=field.aad), pk, token],
                    )
                    changed += cursor.rowcount
            if progress:
                progress(len(rows))
    return changed

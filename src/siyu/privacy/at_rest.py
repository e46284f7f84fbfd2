"""Encrypting columns that used to hold plaintext, for the migrations that turn a field into an encrypted one.

A migration cannot use the model to do it: the model would try to decrypt the plaintext it reads. So the rows
are read and written with raw SQL, each value sealed with the same associated data the field uses
(``app_label.model.column``), and values that are already tokens are left alone, so running it twice is harmless.
"""

from __future__ import annotations

from siyu.privacy.keyring import is_token
from siyu.privacy.keys import keyring

BATCH = 2000


def encrypt_columns(connection, *, table: str, label: str, columns: tuple[str, ...]) -> None:
    """Encrypt every non-empty plaintext value of ``columns`` in ``table`` (model ``label``, e.g. ``wecom.chatmessage``)
    through ``connection`` (a migration passes ``schema_editor.connection``)."""
    ring = keyring()
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    sets = ", ".join(f"{quote(c)} = %s" for c in columns)
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, {names} FROM {quote(table)} WHERE id > %s ORDER BY id LIMIT {BATCH}", [last])
            rows = cursor.fetchall()
            for pk, *values in rows:
                sealed = [value if not value or is_token(value) else ring.encrypt(value, context=f"{label}.{column}".encode())
                          for column, value in zip(columns, values, strict=True)]
                if sealed != values:
                    cursor.execute(f"UPDATE {quote(table)} SET {sets} WHERE id = %s", [*sealed, pk])
        if len(rows) < BATCH:
            return
        last = rows[-1][0]

"""Model fields for personal data: encrypted at rest, found again through a keyed blind index.

``phone = EncryptedTextField(index_field="phone_index")`` stores an AES-GCM token bound to its column;
``phone_index = BlindIndexField(source="phone", purpose="phone", normalizer=normalize_phone)`` stores an
HMAC of the normalized value so ``filter(**blind_lookup(Model, "phone", "138 1234 5678"))`` finds the row
without the database ever seeing the number.
"""

import json
from collections.abc import Callable

from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Q

from siyu.privacy.keyring import DecryptionError
from siyu.privacy.keys import keyring, reload_keyring


class EncryptedTextField(models.TextField):
    """Text encrypted with the current key; old keys still decrypt, so key rotation keeps rows readable."""

    def __init__(self, *args, index_field: str | None = None, **kwargs):
        self.index_field = index_field
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.index_field:
            kwargs["index_field"] = self.index_field
        return name, path, args, kwargs

    @property
    def aad(self) -> bytes:
        # Binds the ciphertext to its column: a token copied elsewhere does not decrypt.
        return f"{self.model._meta.label_lower}.{self.attname}".encode()

    def get_db_prep_save(self, value, connection):
        if value is None or value == "":
            return value
        return keyring().encrypt(str(value), context=self.aad)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return keyring().decrypt(value, context=self.aad)
        except DecryptionError:
            # Another process may have rotated the keys since this one loaded them: look once more.
            return reload_keyring().decrypt(value, context=self.aad)

    def get_lookup(self, lookup_name):
        # Ciphertexts are randomized: equality on them is meaningless, so only emptiness may be asked.
        if lookup_name not in {"isnull", "exact"}:
            raise FieldError(f"{self.name} is encrypted: look it up through its blind index")
        return super().get_lookup(lookup_name)

    def get_prep_value(self, value):
        if value not in (None, ""):
            raise FieldError(f"{self.name} is encrypted: look it up through its blind index")
        return value


class EncryptedJSONField(EncryptedTextField):
    """A JSON document (dicts, lists, text) encrypted as a whole: for raw payloads that may carry personal data
    in fields nobody listed in advance. Not searchable; keep what must be filtered on in plain columns."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", dict)
        super().__init__(*args, **kwargs)

    def get_db_prep_save(self, value, connection):
        return super().get_db_prep_save(json.dumps(value, ensure_ascii=False, separators=(",", ":")), connection)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return json.loads(super().from_db_value(value, expression, connection))

    def to_python(self, value):
        return value


class BlindIndexField(models.CharField):
    """Keyed HMAC of another field's normalized value, recomputed on every save."""

    def __init__(self, *args, source: str, purpose: str, normalizer: Callable[[str], str] | None = None, **kwargs):
        self.source = source
        self.purpose = purpose
        self.normalizer = normalizer
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, purpose=self.purpose, normalizer=self.normalizer)
        for key in ("max_length", "db_index", "editable", "blank", "default"):
            kwargs.pop(key, None)
        return name, path, args, kwargs

    def index_of(self, value: str | None) -> str:
        if value is None or str(value).strip() == "":
            return ""
        normalized = self.normalizer(str(value)) if self.normalizer else str(value).strip()
        return keyring().blind_index(normalized, purpose=self.purpose)

    def pre_save(self, model_instance, add):
        value = self.index_of(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every encrypted column of every installed model (for re-encryption after a key rotation)."""
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def blind_lookup(model: type[models.Model], field_name: str, value: str) -> Q:
    """A filter finding rows whose encrypted ``field_name`` equals ``value`` (after normalization)."""
    encrypted = model._meta.get_field(field_name)
    index = model._meta.get_field(encrypted.index_field)
    return Q(**{index.attname: index.index_of(value)})

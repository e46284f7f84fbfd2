"""WeCom callback crypto (WXBizMsgCrypt) and the JS-SDK signature.

WeCom signs and encrypts every callback it sends us and expects the same
scheme on passive replies. This module reproduces WeCom's reference
implementation (``sbzhu/weworkapi_python``, ``callback_python3``) byte for
byte, but with typed errors instead of numeric return codes:

* ``msg_signature = sha1("".join(sorted([token, timestamp, nonce, encrypt])))``
* ``key = b64decode(EncodingAESKey + "=")`` (32 bytes), AES-256-CBC, ``IV = key[:16]``
* plaintext = ``random(16) || len(msg) as uint32 big-endian || msg || receiveid``,
  PKCS#7-padded to **32-byte** blocks (not AES's 16).

Every failure on untrusted input raises a subclass of :class:`WeComCryptoError`
(itself a ``ValueError``), so a view can catch one type and answer 400/403.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as _xml_fromstring

__all__ = [
    "BadPayload",
    "ReceiveIdMismatch",
    "SignatureMismatch",
    "WXBizMsgCrypt",
    "WeComCryptoError",
    "generate_encoding_aes_key",
    "generate_token",
    "jsapi_signature",
]

_BLOCK = 32  # WeCom's PKCS#7 block size (PKCS7Encoder.block_size in the reference)
_ALNUM = string.ascii_letters + string.digits

# Exact text of XMLParse.AES_TEXT_RESPONSE_TEMPLATE in WeCom's Python sample.
_REPLY_TEMPLATE = (
    "<xml>\n"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
    "<TimeStamp>{timestamp}</TimeStamp>\n"
    "<Nonce><![CDATA[{nonce}]]></Nonce>\n"
    "</xml>"
)


class WeComCryptoError(ValueError):
    """Base class: a callback could not be authenticated or decoded."""


class SignatureMismatch(WeComCryptoError):
    """msg_signature does not match (WeCom -40001): not from WeCom, or wrong token."""


class BadPayload(WeComCryptoError):
    """Malformed input: bad base64, length, padding, layout, or bad/hostile XML."""


class ReceiveIdMismatch(WeComCryptoError):
    """Decrypted fine but addressed to another CorpID/SuiteID (WeCom -40005)."""


def _utf8(value: str | bytes) -> bytes:
    # surrogatepass: odd input must give a mismatch, never a UnicodeEncodeError.
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


class WXBizMsgCrypt:
    """Sign, verify, encrypt and decrypt WeCom callbacks for one app.

    ``receive_id`` is the CorpID for self-built apps, the SuiteID for
    third-party suite callbacks, or ``""`` where WeCom's docs say so.
    """

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be exactly 43 characters (as shown in the WeCom admin console)")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("EncodingAESKey must contain only base64 characters [A-Za-z0-9+/]") from None
        if len(key) != 32:  # cannot happen for 43 valid chars; kept as the reference's assert
            raise ValueError("EncodingAESKey does not decode to a 32-byte AES key")
        self.token = token
        self.receive_id = receive_id
        self._key = key

    # --- signatures -------------------------------------------------------

    def signature(self, timestamp: str | int, nonce: str | int, encrypted: str) -> str:
        """Return WeCom's msg_signature: sha1 hex of the sorted, joined four strings."""
        parts = sorted([str(self.token), str(timestamp), str(nonce), str(encrypted)])
        return hashlib.sha1(_utf8("".join(parts))).hexdigest()

    def _check_signature(self, msg_signature: str, timestamp, nonce, encrypted: str) -> None:
        expected = self.signature(timestamp, nonce, encrypted)
        # Encode both sides: compare_digest rejects non-ASCII str with TypeError.
        if not hmac.compare_digest(_utf8(expected), _utf8(msg_signature)):
            raise SignatureMismatch("msg_signature does not match")

    # --- AES layer ----------------------------------------------------------

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: bytes | str, random16: bytes | None = None) -> str:
        """Encrypt ``plaintext`` into the base64 ``Encrypt`` value WeCom expects.

        ``random16`` exists only to reproduce fixed test vectors; leave it
        ``None`` in production so each message gets a fresh random prefix.
        """
        msg = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        prefix = secrets.token_bytes(16) if random16 is None else bytes(random16)
        if len(prefix) != 16:
            raise ValueError("random16 must be exactly 16 bytes")
        data = prefix + struct.pack(">I", len(msg)) + msg + self.receive_id.encode("utf-8")
        pad = _BLOCK - len(data) % _BLOCK  # 1..32; a full block when already aligned
        data += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(data) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypted_b64: str | bytes) -> bytes:
        """Decrypt an ``Encrypt``/``echostr`` value and return the inner message bytes.

        This does not check a signature: callers handling untrusted input
        should use :meth:`verify_url` / :meth:`decrypt_message`, which verify
        first so the padding check below can never act as a padding oracle.
        """
        try:
            raw = base64.b64decode(encrypted_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise BadPayload("ciphertext is not valid base64") from None
        if len(raw) < _BLOCK or len(raw) % 16:
            raise BadPayload("ciphertext length is not a positive multiple of the AES block size")
        dec = self._cipher().decryptor()
        plain = dec.update(raw) + dec.finalize()

        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise BadPayload("bad PKCS#7 padding")
        content = plain[16:-pad]  # drop the random prefix and the padding
        if len(content) < 4:
            raise BadPayload("plaintext too short")
        (msg_len,) = struct.unpack(">I", content[:4])
        if 4 + msg_len > len(content):
            raise BadPayload("message length exceeds plaintext")
        msg = content[4 : 4 + msg_len]
        if content[4 + msg_len :] != self.receive_id.encode("utf-8"):
            raise ReceiveIdMismatch("receiveid in the message does not match this app")
        return msg

    # --- the three WeCom operations --------------------------------------

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Handle the GET URL check: verify, then return the plaintext to echo back.

        ``echostr`` must already be URL-decoded (Django's ``request.GET`` does that).
        """
        if not isinstance(echostr, str):
            raise BadPayload("echostr must be a string")
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        try:
            return self.decrypt(echostr).decode("utf-8")
        except UnicodeDecodeError:
            raise BadPayload("echostr plaintext is not UTF-8") from None

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, body: bytes | str) -> bytes:
        """Handle a POST callback: parse the envelope, verify, decrypt, return the inner XML.

        The envelope is parsed with defusedxml because the body is untrusted
        until the signature is checked (entity bombs, external entities).
        """
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        if not isinstance(body, (bytes, str)):
            raise BadPayload("body must be bytes or str")
        try:
            root = _xml_fromstring(body, forbid_dtd=True)  # WeCom never sends a DOCTYPE
        except (ParseError, DefusedXmlException, ValueError, TypeError):
            # ValueError also covers UnicodeError from odd str input.
            raise BadPayload("envelope is not acceptable XML") from None
        node = root.find("Encrypt")
        if node is None or not node.text:
            raise BadPayload("envelope has no Encrypt element")
        encrypted = node.text
        self._check_signature(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt_reply(
        self,
        reply_xml: str | bytes,
        timestamp: str | int,
        nonce: str | int,
        random16: bytes | None = None,
    ) -> str:
        """Wrap a passive reply in WeCom's encrypted envelope (reference template, byte-exact)."""
        timestamp, nonce = str(timestamp), str(nonce)
        # Both are echoed into the XML unescaped, as the reference does; refuse
        # values that would break out of the element instead of emitting bad XML.
        if "]]>" in nonce or any(c in timestamp for c in "<&"):
            raise BadPayload("timestamp/nonce would break the reply envelope")
        encrypted = self.encrypt(reply_xml, random16)
        return _REPLY_TEMPLATE.format(
            encrypt=encrypted,
            signature=self.signature(timestamp, nonce, encrypted),
            timestamp=timestamp,
            nonce=nonce,
        )


def jsapi_signature(ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """JS-SDK ``wx.config``/``agentConfig`` signature (WeCom DOC 96909).

    Fixed key order, no URL-encoding; the page URL is signed without its
    ``#fragment`` because the browser never sends it and WeCom strips it.
    """
    url = url.split("#", 1)[0]
    string1 = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(string1.encode("utf-8")).hexdigest()


def generate_encoding_aes_key() -> str:
    """A fresh 43-char EncodingAESKey, alphanumeric like the WeCom console's own."""
    # Any 43 base64 chars + "=" decode to 32 bytes; alnum keeps it pasteable.
    return "".join(secrets.choice(_ALNUM) for _ in range(43))


def generate_token() -> str:
    """A fresh callback Token: 32 alphanumerics, the longest WeCom accepts."""
    return "".join(secrets.choice(_ALNUM) for _ in range(32))

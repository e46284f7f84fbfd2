"""Zero-config runtime settings read from ``SIYU_*`` environment variables.

Everything a fresh install needs (database, job store, secrets, media) lives in one data directory,
``./var`` by default, created on first use. Secrets are generated there and readable only by the owner,
so nothing secret is ever committed or shipped.
"""

import os
import secrets
import stat
import sys
from pathlib import Path


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def data_dir() -> Path:
    """The data directory, owner-only. Every file Siyu creates from here on is owner-only too (umask 077):
    the database and its WAL, the job store, keys, uploads and exports."""
    os.umask(0o077)
    path = Path(os.environ.get("SIYU_DATA_DIR") or "var").resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # An existing directory (e.g. made by a deployment script) that others may read: tighten it, loudly.
        try:
            path.chmod(0o700)
        except PermissionError:
            sys.exit(f"Siyu: the data directory {path} is readable by others (mode {mode:o}) and cannot be "
                     f"tightened; run: chmod 700 {path}")
        print(f"Siyu: tightened the data directory {path} from mode {mode:o} to 700.", file=sys.stderr)
    for child in path.iterdir():
        # Files written by an older version or copied in (database, WAL, job store) become owner-only too.
        if child.is_file() and not child.is_symlink() and stat.S_IMODE(child.stat().st_mode) & 0o077:
            child.chmod(0o600)
    return path


def write_private_file(path: Path, content: str) -> None:
    """Create ``path`` with mode 0600 atomically, so a secret is never readable by others, not even briefly."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.replace(tmp, path)


def secret_key(directory: Path) -> str:
    """The Django secret key: ``SIYU_SECRET_KEY`` if set, else generated once into the data dir."""
    if os.environ.get("SIYU_SECRET_KEY"):
        return os.environ["SIYU_SECRET_KEY"]
    path = directory / "secret_key"
    if not path.exists():
        try:
            write_private_file(path, secrets.token_urlsafe(50))
        except FileExistsError:  # pragma: no cover - two processes starting at once
            pass
    return path.read_text().strip()


WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def public_url() -> str:
    """The base of every link Siyu hands out (QR codes, H5 pages, the WeCom callback URL).

    ``SIYU_PUBLIC_URL`` when set (production, behind a proxy); otherwise the address this server listens on,
    port included, as published by ``serve_at`` — a poster printed from ``siyu run --port 8101`` must lead
    to port 8101, not to a default nobody serves.
    """
    configured = os.environ.get("SIYU_PUBLIC_URL", "").strip()
    if configured:
        return configured.rstrip("/")
    host = os.environ.get("SIYU_HOST", "127.0.0.1")
    # A wildcard bind address is not an address anyone can open; loopback is the honest local default.
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('SIYU_PORT', '8000')}"


def serve_at(host: str, port: int) -> str:
    """Record where this server listens, for this process and every child it starts; return the public URL."""
    from django.conf import settings

    os.environ["SIYU_HOST"] = host
    os.environ["SIYU_PORT"] = str(port)
    settings.PUBLIC_URL = public_url()
    return settings.PUBLIC_URL

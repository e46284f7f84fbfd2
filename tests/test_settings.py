"""Configuration that must hold on every install: SQLite pragmas, secrets, security headers."""

import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client


@pytest.mark.skipif(bool(os.environ.get("SIYU_TEST_DATABASE_URL")), reason="SQLite pragmas")
def test_sqlite_pragmas(db):
    with connection.cursor() as cursor:
        values = {}
        for pragma in ["journal_mode", "synchronous", "busy_timeout", "foreign_keys"]:
            cursor.execute(f"PRAGMA {pragma}")
            values[pragma] = cursor.fetchone()[0]
    assert values == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 10000, "foreign_keys": 1}


def test_secret_key_is_generated_private_and_stable(tmp_path):
    env = {**os.environ, "SIYU_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "siyu.settings"}
    env.pop("SIYU_SECRET_KEY", None)
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert first == second and len(first.strip()) >= 50
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_environment_selects_postgres_and_redis(tmp_path):
    env = {
        **os.environ, "SIYU_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "siyu.settings",
        "SIYU_DATABASE_URL": "postgres://u:p@db.internal:5433/brand", "SIYU_REDIS_URL": "redis://cache:6379/2",
    }
    code = (
        "from django.conf import settings as s; d=s.DATABASES['default'];"
        "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'], s.HUEY['huey_class'], s.HUEY['url'])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["django.db.backends.postgresql", "db.internal", "5433", "brand", "huey.RedisHuey", "redis://cache:6379/2"]


def test_security_headers_and_csp(db):
    response = Client().get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-eval" not in csp
    cookie_flags = settings.SESSION_COOKIE_HTTPONLY, settings.CSRF_COOKIE_HTTPONLY, settings.SESSION_COOKIE_SAMESITE
    assert cookie_flags == (True, True, "Lax")
    assert not settings.DEBUG


def test_https_mode_makes_cookies_secure(tmp_path):
    env = {**os.environ, "SIYU_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "siyu.settings", "SIYU_HTTPS": "1"}
    code = "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "31536000"]


def test_templates_have_no_inline_scripts():
    """The CSP allows only same-origin script files; an inline <script> would silently not run."""
    import re
    from pathlib import Path

    import siyu

    offenders = []
    for path in Path(siyu.__file__).parent.rglob("templates/**/*.html"):
        for match in re.finditer(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", path.read_text()):
            offenders.append(f"{path.name}: {match.group(0)}")
    assert offenders == []


def test_console_is_chinese_first_whatever_the_browser_says(db):
    from django.conf import settings

    english_browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "登录" in english_browser.get("/login/").content.decode()
    english_browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = english_browser.get("/login/").content.decode()
    assert "Sign in" in page and "登录" not in page.split("<body")[1].split("lang-switch")[0]

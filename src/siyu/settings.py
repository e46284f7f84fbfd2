"""Django settings. Every knob is an ``SIYU_*`` environment variable with a zero-config default."""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from siyu import config

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = config.data_dir()
SECRET_KEY = config.secret_key(DATA_DIR)
DEBUG = config.env_bool("SIYU_DEBUG")
HTTPS = config.env_bool("SIYU_HTTPS")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("SIYU_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("SIYU_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# Public base URL used in links we hand out (QR codes, callback URL, H5 pages); defaults to this server's address.
PUBLIC_URL = config.public_url()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "huey.contrib.djhuey",
    "siyu.core",
    "siyu.orgs",
    "siyu.privacy",
    "siyu.wecom",
    "siyu.customers",
    "siyu.groups",
    "siyu.cdp",
    "siyu.segments",
    "siyu.content",
    "siyu.lifecycle",
    "siyu.analytics",
    "siyu.channels",
    "siyu.messaging",
    "siyu.conversations",
    "siyu.workbench",
    "siyu.sidebar",
    "siyu.moments",
    "siyu.sop",
    "siyu.journeys",
    "siyu.tracking",
    "siyu.console",
]

MIDDLEWARE = [
    "siyu.core.public_paths.PublicPathsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "siyu.core.csp.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "siyu.console.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "siyu.orgs.middleware.TenantMiddleware",
    "siyu.core.inputs.BadInputMiddleware",
]

# Readers' phones and tracking SDKs, served by siyu.core.public_paths with their own URLconf and only the hooks
# of the middleware that shape every response (no session, user or CSRF cookie).
PUBLIC_PATH_PREFIXES = ("/t/", "/v1/")
PUBLIC_URLCONF = "siyu.public_urls"
PUBLIC_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "siyu.core.csp.CSPMiddleware",
    "siyu.console.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "siyu.urls"
WSGI_APPLICATION = "siyu.wsgi.application"
AUTH_USER_MODEL = "orgs.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:dashboard"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "siyu.console.context.console",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]


def _database() -> dict:
    url = os.environ.get("SIYU_DATABASE_URL")
    if url:
        db = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        db.setdefault("OPTIONS", {})
        return db
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "siyu.sqlite3"),
        # Keep each thread's connection: opening one and running the pragmas cost more than most requests.
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # WAL lets readers run beside the writer; NORMAL is durable across app crashes in WAL mode;
            # IMMEDIATE transactions take the write lock up front so writers queue instead of failing.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 10,
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("SIYU_REDIS_URL", "")
if REDIS_URL:
    HUEY = {"huey_class": "huey.RedisHuey", "name": "siyu", "url": REDIS_URL, "immediate": False}
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "siyu",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": False,
    }
HUEY["consumer"] = {"workers": int(os.environ.get("SIYU_WORKER_THREADS", "4")), "worker_type": "thread"}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "siyu_cache"}}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lockout: this many wrong passwords within the window lock the account for the lock time.
LOGIN_MAX_FAILURES = int(os.environ.get("SIYU_LOGIN_MAX_FAILURES", "5"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("SIYU_LOGIN_FAILURE_WINDOW", "900"))
LOGIN_LOCK_SECONDS = int(os.environ.get("SIYU_LOGIN_LOCK_SECONDS", "900"))
# Exported files (customer lists, statistics) are deleted after this many days.
EXPORT_RETENTION_DAYS = int(os.environ.get("SIYU_EXPORT_RETENTION_DAYS", "7"))
# A customer's consent link works this long after it was issued; a chat reply of 退订 always works.
CONSENT_LINK_DAYS = int(os.environ.get("SIYU_CONSENT_LINK_DAYS", "30"))
# Attachment files are fetched from the URLs operators give; internal addresses only when this is set (a closed
# network whose file server has a private address). Siyu's own PUBLIC_URL is always allowed.
MEDIA_FETCH_INTERNAL = os.environ.get("SIYU_MEDIA_FETCH_INTERNAL", "") == "1"
# Journeys may call webhooks on internal addresses (a deployment whose receivers live on its own network).
JOURNEY_WEBHOOK_INTERNAL = os.environ.get("SIYU_JOURNEY_WEBHOOK_INTERNAL", "") == "1"
# How long a link inviting an existing account to join a brand stays valid (seconds).
INVITATION_SECONDS = int(os.environ.get("SIYU_INVITATION_SECONDS", str(7 * 24 * 3600)))
PASSWORD_RESET_SECONDS = int(os.environ.get("SIYU_PASSWORD_RESET_SECONDS", str(24 * 3600)))
# Throttling before any password is hashed: failed sign-ins per client address, and per unknown username,
# within the throttle window (seconds).
LOGIN_IP_MAX_FAILURES = int(os.environ.get("SIYU_LOGIN_IP_MAX_FAILURES", "20"))
LOGIN_THROTTLE_WINDOW = int(os.environ.get("SIYU_LOGIN_THROTTLE_WINDOW", "900"))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_NAME = "siyu_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the package's static folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_MAX_AGE = 3600
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

# Security: cookies are HttpOnly and SameSite; over HTTPS (SIYU_HTTPS=1) they are Secure too and HSTS is on.
SESSION_COOKIE_NAME = "siyu_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_NAME = "siyu_csrftoken"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = HTTPS
CSRF_FAILURE_VIEW = "siyu.console.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # ECharts tooltips and HTMX swaps set inline styles; scripts stay strictly same-origin.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SIYU_LOG_LEVEL", "INFO")},
    # httpx logs every URL at INFO, and WeCom URLs carry credentials: keep it quiet.
    "loggers": {"huey": {"level": "WARNING"}, "django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# Durable-row dispatcher: how long a claimed row is leased before another worker may take it over.
DISPATCH_LEASE_SECONDS = int(os.environ.get("SIYU_DISPATCH_LEASE_SECONDS", "60"))
DISPATCH_BATCH = int(os.environ.get("SIYU_DISPATCH_BATCH", "100"))
DISPATCH_IDLE_SLEEP = float(os.environ.get("SIYU_DISPATCH_IDLE_SLEEP", "0.5"))

NINJA_PAGINATION_PER_PAGE = 50

# Callbacks whose signed timestamp is further than this from our clock (seconds) are refused; 0 turns it off.
WECOM_CALLBACK_WINDOW = int(os.environ.get("SIYU_WECOM_CALLBACK_WINDOW", "3600"))
# The console warns when no callback arrived for this long (seconds) while the connection is active.
WECOM_CALLBACK_GAP_WARNING = int(os.environ.get("SIYU_WECOM_CALLBACK_GAP_WARNING", str(6 * 3600)))

# Where new WeCom connections point by default (the demo points it at the local simulator).
WECOM_API_BASE = os.environ.get("SIYU_WECOM_API_BASE", "")
# Where sign-in with WeCom sends people (its authorize and web-login pages); empty: WeCom's own hosts. The demo
# points it at the local simulator, which serves both pages.
WECOM_LOGIN_BASE = os.environ.get("SIYU_WECOM_LOGIN_BASE", "")

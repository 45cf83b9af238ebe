"""Django settings for L2C, read from the environment (see README "Configuration")."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("L2C_VAR_DIR", PROJECT_DIR / "var"))


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """The key from L2C_SECRET_KEY, else one generated once and kept in var/secret_key."""
    configured = os.environ.get("L2C_SECRET_KEY")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


DEBUG = _env_flag("L2C_DEBUG")
TESTING = _env_flag("L2C_TESTING")
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("L2C_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip() for origin in os.environ.get("L2C_CSRF_TRUSTED_ORIGINS", "").split(",") if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "l2c.web",
    "l2c.apps.identity",
    "l2c.apps.activity",
    "l2c.apps.customers",
    "l2c.apps.catalog",
    "l2c.apps.pricing",
    "l2c.apps.marketing",
    "l2c.apps.tenders",
    "l2c.apps.opportunities",
    "l2c.apps.leads",
    "l2c.apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "l2c.web.middleware.RequestContextMiddleware",
    "l2c.web.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "l2c.web.middleware.NulStrippingMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "l2c.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "l2c.urls"
WSGI_APPLICATION = "l2c.wsgi.application"
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = ["l2c.apps.identity.auth_backends.UsernameOrEmailBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "django.template.context_processors.i18n",
                "l2c.web.context_processors.shell",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------------
DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'l2c.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Survives a worker and the web app writing at once (STACK-NOTES.md).
    # A 64 MiB page cache per connection, kept across requests (CONN_MAX_AGE): a fresh connection per
    # request would start every request with a cold cache and re-run these pragmas.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                        "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
    }
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- tasks ----------------------------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
if TESTING:
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- i18n / time ----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("L2C_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- static ---------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
L2C_IMPORT_MAX_BYTES = int(os.environ.get("L2C_IMPORT_MAX_BYTES", 200 * 1024 * 1024))
# Lead scoring: apply the weights of the weekly recalibration at once (True) or wait for an admin.
L2C_SCORING_WEIGHTS_AUTO_APPLY = _env_flag("L2C_SCORING_WEIGHTS_AUTO_APPLY", default=False)

# --- security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG and not TESTING and _env_flag("L2C_HTTPS", default=True):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_flag("L2C_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = int(os.environ.get("L2C_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# SECURE_SSL_REDIRECT is off by default: TLS usually ends at the load balancer, which redirects.
SILENCED_SYSTEM_CHECKS = [] if _env_flag("L2C_SSL_REDIRECT") else ["security.W008"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _env_flag("L2C_BEHIND_PROXY") else None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Login throttling: failures per username+IP within the window lock the pair out.
L2C_LOGIN_MAX_FAILURES = int(os.environ.get("L2C_LOGIN_MAX_FAILURES", 5))
L2C_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("L2C_LOGIN_LOCKOUT_SECONDS", 15 * 60))
# Public campaign registration pages (/r/<token>/): submissions per client address and per campaign
# within the window; counted in the database (marketing.RateLimitCounter), so every process shares them.
L2C_REGISTRATION_RATE_WINDOW_SECONDS = int(os.environ.get("L2C_REGISTRATION_RATE_WINDOW_SECONDS", 60))
L2C_REGISTRATION_RATE_PER_IP = int(os.environ.get("L2C_REGISTRATION_RATE_PER_IP", 10))
L2C_REGISTRATION_RATE_PER_CAMPAIGN = int(os.environ.get("L2C_REGISTRATION_RATE_PER_CAMPAIGN", 300))
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, REMOTE_ADDR is the client).
L2C_TRUSTED_PROXY_COUNT = int(os.environ.get("L2C_TRUSTED_PROXY_COUNT", 0))

EMAIL_BACKEND = os.environ.get("L2C_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("L2C_DEFAULT_FROM_EMAIL", "l2c@localhost")

DEMO_PASSWORD = os.environ.get("L2C_DEMO_PASSWORD", "l2c-demo-2026")
# The log-in page lists the demo users (and the password when it is the default) only when asked:
# `l2c serve --demo` (and so `make run`) sets L2C_SHOW_DEMO_LOGINS=1; production never does.
DEMO_PASSWORD_SHOWN = "L2C_DEMO_PASSWORD" not in os.environ
L2C_SHOW_DEMO_LOGINS = _env_flag("L2C_SHOW_DEMO_LOGINS", default=False)

# Business-registration data (工商信息) provider of the 360 profile (docs/registration.md): a dotted
# class path and its keyword arguments as JSON. Default: the file provider reading L2C_REGISTRATION_FILE,
# which defaults to the sample file of the demo companies shipped with the product.
REGISTRATION_PROVIDER = os.environ.get("L2C_REGISTRATION_PROVIDER",
                                       "l2c.apps.customers.registration.FileRegistrationProvider")
REGISTRATION_OPTIONS = json.loads(os.environ.get("L2C_REGISTRATION_OPTIONS") or "null") or {
    "path": os.environ.get("L2C_REGISTRATION_FILE",
                           str(Path(__file__).resolve().parent / "apps/customers/data/registration_demo.csv")),
}

# Tender subscription webhooks (docs/tenders.md) may only call these hosts: comma-separated,
# default this machine's loopback.
L2C_WEBHOOK_ALLOWED_HOSTS = [host.strip() for host in os.environ.get(
    "L2C_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1,localhost,::1").split(",") if host.strip()]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("L2C_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

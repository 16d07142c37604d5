"""Handoff settings: one file, driven by environment variables.

The defaults run on a laptop with nothing but Python: SQLite and Celery on kombu's
filesystem transport. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
ALLOWED_HOSTS and DEBUG=0 (see README.md).
"""

import datetime as dt
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("HANDOFF_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # Production never runs on a key everyone can read in the repository.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off Handoff refuses to start on the "
            "development key; set SECRET_KEY to a long random string."
        )
    SECRET_KEY = "django-insecure-handoff-local-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "django_celery_beat",
    "simple_history",
    "leads",
    "notifications",
    "signoff",
    "scoring",
    "sla",
    "reports",
    "demo",
    "bench",
]

# What follows a change to a lead, in this order. Declared here rather than registered by the
# apps, so one place shows what a stage change sets off and the order never depends on
# INSTALLED_APPS. Lower apps name higher ones only here, as strings (see the layers contract
# in pyproject.toml).
LIFECYCLE_FOLLOWERS = {
    # Every StageEvent (leads.services.lead_transition), inside its transaction: the SLA opens,
    # accepts or closes the hand-off, then the report facts read the event and that hand-off.
    "stage_changed": [
        "sla.services.handoff_follow_stage",
        "reports.services.facts_follow_stage",
    ],
    # A hand-off changed without a stage change (a first contact, a reassignment), inside the
    # transaction of that change.
    "handoff_changed": ["reports.services.facts_follow_handoff"],
    # After commit, the ids of leads whose attributes or activities changed: rescore them.
    "lead_changed": ["scoring.services.rescore_leads_enqueue"],
    # A lead already an MQL was fast-tracked by a new activity (scoring's single-lead rescore),
    # inside that transaction: its open hand-off turns hot.
    "lead_fast_tracked": ["sla.services.handoff_make_hot"],
}
# What the lead page shows beyond the lead's own data, each a function (request, lead) that
# returns template context: the SLA's actions, hand-off and score explanation.
LEAD_PAGE_PANELS = ["sla.views.lead_panels"]
# Where each role lands after logging in (the first role of the user's in this order wins;
# anyone else lands on the lead list): a rep's work is the queue, a sales manager's the team,
# a marketing manager's the dashboard.
HOME_BY_ROLE = [
    ("Sales manager", "sla:queue?scope=team"),
    ("Marketing manager", "reports:dashboard"),
    ("Sales rep", "sla:queue"),
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "leads.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # After authentication: refuses a locked-out account's sign-in with the lockout page.
    "axes.middleware.AxesMiddleware",
    # Last, so it sees the view's exceptions first: non-staff never get DEBUG's pages.
    "core.errors.ErrorPagesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leads.context_processors.roles",
                "notifications.context_processors.unread",
            ],
        },
    },
]

# Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'handoff.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions and WAL let the web process and Celery workers share the file
    # without "database is locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The covering index on activities matters on PostgreSQL; SQLite builds it without INCLUDE.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"

# Password guessing (django-axes), for the login page and the admin alike: after
# AXES_FAILURE_LIMIT wrong passwords for one account, that account cannot sign in for
# AXES_COOLOFF_TIME, even with the right password, and is told so. Counted per account, not
# per address: behind a proxy every user shares one address. An admin can unlock early
# (`python manage.py axes_reset_username NAME`).
AUTHENTICATION_BACKENDS = [
    "core.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=30)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for the address as well; per account is the point here (see above), and
# rotating user agents or cookies does not get around a lock on the account.
SILENCED_SYSTEM_CHECKS += ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.lockout.locked_out"
AXES_VERBOSE = False
# Guessing API tokens: after this many requests with a wrong token from one address within
# the window, that address is answered 429 until the window passes.
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", default=30)
API_TOKEN_FAILURE_WINDOW = dt.timedelta(minutes=15)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# The default display time zone; each user picks their own in their preferences.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
# Months and weeks of the dashboard and the monthly review: one zone for every viewer, so the
# review shows everyone the same month. Changing it needs `manage.py reports_rebuild`.
REPORTS_TIME_ZONE = env.str("REPORTS_TIME_ZONE", default=TIME_ZONE)

# Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
# Our static files, the apps' (admin, API docs), and plotly.js from the plotly package under
# a versioned name beside a gzip copy (core/vendor.py): never a CDN.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "core.vendor.VendorFinder",
]
# Production serves hashed names, immutable for a year (WhiteNoise's own test). In development
# the versioned plotly.js is immutable too: 4.8 MB (1.4 MB gzipped) is fetched once.
WHITENOISE_IMMUTABLE_FILE_TEST = r"/vendor/plotly-[0-9][0-9A-Za-z.+-]*\.min\.js$" if DEBUG else None
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Uploaded CSV files are streamed from disk, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=20 * 1024 * 1024)

# Security (production values come from the environment) --------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: scripts only from our own static files (no inline scripts or
# handlers anywhere: page data travels as json_script / data- attributes), nothing loaded
# from or sent to another origin. Plotly styles its charts inline, hence style-src.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Handoff <handoff@localhost>")

# REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.GuardedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.ApiPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
# The OpenAPI schema and the docs page are public in development only (DEBUG on); in
# production they need a login.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "Handoff API",
    "DESCRIPTION": "Leads, activities and lifecycle history for the marketing–sales SLA desk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs need a login (session or token) unless API_DOCS_PUBLIC.
    "SERVE_PERMISSIONS": ["core.auth.ApiDocsPermission"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies refuse unknown fields (StrictSerializer); the schema says so.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema_closed_request_bodies",
        "core.api.schema_server_limits",
    ],
    # Swagger UI served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "leads.models.Stage",
        "ActivityKindEnum": "leads.models.ActivityKind",
        "RuleKindEnum": "scoring.models.Rule.Kind",
        "RuleOperatorEnum": "scoring.models.Rule.Operator",
    },
}

# Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    # The same folder in and out: one queue that the web process writes and workers read.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "polling_interval": 0.1,
    }
else:
    # A task a dead worker held (acknowledged only after it ran) goes back to the queue
    # after this many seconds. Long tasks outlive it safely: a rescore run or an import is
    # claimed in the database with a heartbeat, so a second delivery finds it taken.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
        # Give up connecting quickly when Redis is down (the work is recorded; a sweep
        # enqueues it again).
        "socket_connect_timeout": 2,
    }
# When the broker is away, give up publishing quickly: the work is recorded in the database
# (a stale score, a pending notice, a queued job) and a beat sweep enqueues it again, so a
# request need not wait for the broker to come back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Progress and outcomes live in our own tables; nobody reads Celery results.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A task is acknowledged after it ran, so a worker killed mid-way leaves it for another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Long imports and rescoring must not starve quick hand-off tasks queued behind them.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A runaway task is stopped instead of holding a worker forever.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
CELERY_TIMEZONE = "UTC"
# Queues by kind, so a lead that just became hot never waits behind a long pass:
#   live   speed-to-lead: single-lead rescores, hand-offs, notifications (seconds matter)
#   bulk   full rescores and imports (minutes; may hold a worker for a while)
#   sweeps beat's periodic sweeps and resumptions (short, must not queue behind bulk work)
# Run at least one worker on each (README: `celery ... worker -Q live`, `-Q bulk,sweeps`).
CELERY_TASK_DEFAULT_QUEUE = "live"
CELERY_TASK_ROUTES = {
    "scoring.tasks.rescore_run_task": {"queue": "bulk"},
    "leads.tasks.import_job_run_task": {"queue": "bulk"},
    "reports.tasks.reports_rebuild_task": {"queue": "bulk"},
    "scoring.tasks.nightly_rescore_task": {"queue": "sweeps"},
    "scoring.tasks.resume_stale_rescores_task": {"queue": "sweeps"},
    "scoring.tasks.stale_scores_sweep_task": {"queue": "sweeps"},
    "scoring.tasks.evidence_snapshot_task": {"queue": "sweeps"},
    "leads.tasks.import_jobs_resume_task": {"queue": "sweeps"},
    "sla.tasks.breach_sweep_task": {"queue": "sweeps"},
    "reports.tasks.lead_days_settle_task": {"queue": "sweeps"},
    "notifications.tasks.notifications_redeliver_task": {"queue": "sweeps"},
}
# Every queue above; the test suite's worker and `make run`'s workers consume all of them.
WORKER_QUEUES = ("live", "bulk", "sweeps")
CELERY_BEAT_SCHEDULE = {
    # Decay only moves scores if someone rescores: every lead, each night.
    "nightly-rescore": {
        "task": "scoring.tasks.nightly_rescore_task",
        "schedule": crontab(minute=30, hour=2),
    },
    # Notices the broker or a dead worker left undelivered go out within a minute.
    "notifications-redeliver": {
        "task": "notifications.tasks.notifications_redeliver_task",
        "schedule": 30.0,
    },
    # Leads still stale 30 s after a change (the broker was away, a worker died holding
    # them) are rescored, made MQLs and handed over within a minute.
    "stale-scores-sweep": {"task": "scoring.tasks.stale_scores_sweep_task", "schedule": 15.0},
    # Missed hand-off deadlines are marked (and reps told) within a minute.
    "sla-breach-sweep": {"task": "sla.tasks.breach_sweep_task", "schedule": 60.0},
    # An import whose worker died starts again (imports are idempotent).
    "resume-stale-imports": {"task": "leads.tasks.import_jobs_resume_task", "schedule": 300.0},
    # A rescore whose worker died is picked up again within a minute or two.
    "resume-stale-rescores": {
        "task": "scoring.tasks.resume_stale_rescores_task",
        "schedule": 60.0,
    },
    # The tuning evidence (last six months of MQLs) is ready when someone opens it: at 100,000
    # MQLs computing it takes seconds, reading the snapshot milliseconds.
    "tuning-evidence-snapshot": {
        "task": "scoring.tasks.evidence_snapshot_task",
        "schedule": 900.0,
    },
    # New leads reach the funnel's settled counts (newer ones are counted live meanwhile).
    "reports-settle-lead-days": {
        "task": "reports.tasks.lead_days_settle_task",
        "schedule": 600.0,
    },
}

# Integrations ---------------------------------------------------------------------------
MAUTIC_WEBHOOK_SECRET = env.str("MAUTIC_WEBHOOK_SECRET", default="")
API_LEAD_BATCH_MAX = 1000
API_ACTIVITY_BATCH_MAX = 5000
# 200k leads per chunk measured fastest at 1M leads on 2 cores (make bench); see services.
RESCORE_CHUNK_SIZE = env.int("RESCORE_CHUNK_SIZE", default=200_000)
# Which sides must approve a scoring draft before it can go live.
# Marketing's monthly MQL commitment, which the tuning's threshold suggestion must keep (the SLA
# holds it, and lives above scoring).
SCORING_MQL_COMMITMENT = "sla.selectors.mql_commitment"
SCORING_REQUIRED_APPROVALS = env.list("SCORING_REQUIRED_APPROVALS", default=["marketing", "sales"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

"""The health endpoint: is the database reachable, is the broker reachable.

Load balancers and docker-compose poll it, so it is public: the body names what failed and the
kind of error, while the full exception goes to the log only.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not reachable"
        logger.warning("Health check: database unreachable: %s", exc)
        return False, type(exc).__name__
    return True, connection.vendor


def broker_ok() -> tuple[bool, str]:
    transport = str(celery_app.conf.broker_url).split(":", 1)[0]
    if transport == "filesystem":
        # Kombu's filesystem transport "connects" without touching the disk; the queue is the folder.
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"]
        if not os.access(folder, os.W_OK | os.X_OK):
            logger.warning("Health check: broker folder %s is missing or not writable", folder)
            return False, "BrokerFolderNotWritable"
        return True, transport
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # any transport error means "not reachable"
        logger.warning("Health check: broker unreachable: %s", exc)
        return False, type(exc).__name__
    return True, transport


@never_cache
@require_GET
def healthz(request):
    db, db_detail = database_ok()
    broker, broker_detail = broker_ok()
    problems = [name for name, ok in (("database", db), ("broker", broker)) if not ok]
    body = {
        "status": "unavailable" if problems else "ok",
        "message": f"Unreachable: {' and '.join(problems)}." if problems else "Database and broker reachable.",
        "database": {"ok": db, "detail": db_detail},
        "broker": {"ok": broker, "detail": broker_detail},
    }
    return JsonResponse(body, status=503 if problems else 200)

"""The health endpoint: is the database reachable, is the broker reachable."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not reachable"
        return False, type(exc).__name__
    return True, connection.vendor


def broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return False, type(exc).__name__
    return True, str(transport)


@never_cache
@require_GET
def healthz(request):
    db, db_detail = database_ok()
    broker, broker_detail = broker_ok()
    healthy = db and broker
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": {"ok": db, "detail": db_detail},
        "broker": {"ok": broker, "detail": broker_detail},
    }
    return JsonResponse(body, status=200 if healthy else 503)

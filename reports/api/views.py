"""Report endpoints: JSON and CSV, conditional, paginated.

Readers: an API key of the consortium (read-only), or a user who reads the consortium (its
coordinators, users of its current labs, staff). A key of another consortium gets 403; keys are
refused on every other endpoint (reports/authentication.py). API keys themselves: api/keys.py.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.cache import caches
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium import access
from consortium.api.common import ListPagination
from consortium.models import Consortium
from reports import selectors
from reports.authentication import ApiKeyAuthentication, api_key_get, request_api_key
from reports.models import ApiKey
from reports.renderers import CSVRenderer, CsvTable

from . import serializers as s

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="A parameter is invalid; the message names it."),
    401: OpenApiResponse(
        s.ErrorSerializer, description="No credentials, or a malformed, unknown, revoked or expired API key."
    ),
    403: OpenApiResponse(s.ErrorSerializer, description="An API key of another consortium, or a write with a key."),
    404: OpenApiResponse(
        s.ErrorSerializer,
        description="No such consortium (or not visible), scenario, run, page or format; no succeeded run yet; "
        "no results for the rule.",
    ),
    409: OpenApiResponse(s.ErrorSerializer, description="The chosen run has not succeeded."),
    429: OpenApiResponse(s.ErrorSerializer, description="Too many requests; retry after `Retry-After` seconds."),
}
NOT_MODIFIED = OpenApiResponse(description="Not modified since the given ETag / date; no body.")
CONSORTIUM_SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="Consortium slug.")


# Validated report parameters per serializer and parameter set, per process (bounded: the
# parameters come from clients). Views only read the values they get, never change them.
VALID_QUERIES_KEPT = 512
_valid_queries: dict[tuple[Any, ...], dict[str, Any]] = {}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


class ReportReader(permissions.BasePermission):
    """Authenticated, and with an API key only reading."""

    message = "API keys are read-only."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if not (request.user and request.user.is_authenticated):
            return False
        return request_api_key(request) is None or request.method in permissions.SAFE_METHODS


@csrf_exempt  # it changes nothing, and a CSRF refusal would be an HTML page
def unknown_endpoint(request, *args, **kwargs):  # type: ignore[no-untyped-def]
    message = f"No API endpoint at {request.path}; the operations are listed at /api/docs/."
    return JsonResponse({"error": {"status": 404, "code": "not_found", "message": message}}, status=404)


def _conditional(request, etag: str, last_modified: datetime.datetime | None) -> bool:  # type: ignore[no-untyped-def]
    """Whether the client's copy is current (If-None-Match first, else If-Modified-Since)."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        given = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
        return "*" in given or f'"{etag}"' in given
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return bool(since and last_modified and int(last_modified.timestamp()) <= since)


class ReportView(APIView):
    api_key_access = True
    authentication_classes = [ApiKeyAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [ReportReader]
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_serializer: type[s.ReportQuerySerializer] = s.ReportQuerySerializer
    # Savings and comparison read run results, which never change once stored: their bodies are
    # remembered per ETag, and a repeated request skips building and rendering the report.
    cache_bodies = False

    def consortium_get(self, slug: str) -> Consortium:
        api_key = request_api_key(self.request)
        if api_key is not None:
            if api_key.consortium.slug != slug:
                raise PermissionDenied(f"This API key reads consortium {api_key.consortium.slug!r} only, not {slug!r}.")
            return api_key.consortium
        consortium = Consortium.objects.filter(slug=slug).first()
        if consortium is None or not access.can_view_consortium(self.request.user, consortium):
            raise NotFound(f"slug: no consortium {slug!r} you can read.")
        return consortium

    def query(self) -> dict[str, Any]:
        # A plain dict, not the QueryDict: DRF reads an empty form value as "not given", but an
        # empty query parameter is a mistake to report.
        given = self.request.query_params.dict()
        # Validation depends on the parameters only, and dashboards repeat the same few sets:
        # building a serializer costs more than the rest of a remembered report's answer.
        memo_key = (self.query_serializer, tuple(sorted(given.items())))
        validated = _valid_queries.get(memo_key)
        if validated is None:
            params = self.query_serializer(data=given)
            params.is_valid(raise_exception=True)
            validated = dict(params.validated_data)
            if len(_valid_queries) >= VALID_QUERIES_KEPT:
                _valid_queries.clear()
            _valid_queries[memo_key] = validated
        return dict(validated)

    @property
    def wants_csv(self) -> bool:
        return self.request.accepted_renderer.format == "csv"

    def variant(self) -> tuple[Any, ...]:
        return (self.request.accepted_renderer.format, sorted(self.request.query_params.lists()))

    def answer_early(self, etag: str, last_modified: datetime.datetime | None):  # type: ignore[no-untyped-def]
        """A bodiless 304 when the client's copy is current, else a remembered body for the same
        validators (reports of immutable run results), else None; remembers the validators."""
        self._validators = (etag, last_modified)
        if _conditional(self.request, etag, last_modified):
            return HttpResponseNotModified()
        if not self.cache_bodies:
            return None
        # Absolute page links depend on the host the client used.
        self._body_key = f"reports:body:{etag}:{self.request.scheme}://{self.request.get_host()}"
        remembered = caches["local"].get(self._body_key)
        if remembered is None:
            return None
        content, content_type, disposition = remembered
        response = HttpResponse(content, content_type=content_type)
        if disposition:
            response["Content-Disposition"] = disposition
        return response

    def _remember(self, response) -> None:  # type: ignore[no-untyped-def]
        disposition = response.get("Content-Disposition")
        entry = (response.content, response["Content-Type"], disposition)
        caches["local"].set(self._body_key, entry, timeout=selectors.ROWS_CACHE_SECONDS)

    def _stamp(self, response) -> None:  # type: ignore[no-untyped-def]
        validators = getattr(self, "_validators", None)
        if validators is None:
            return
        etag, last_modified = validators
        response["ETag"] = f'W/"{etag}"'
        if last_modified is not None:
            response["Last-Modified"] = http_date(last_modified.timestamp())
        # Reports differ by credentials: caches may keep them for the client only, and revalidate.
        response["Cache-Control"] = "private, no-cache"
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))

    def page(self, meta: dict[str, Any], rows: list[dict[str, Any]], columns: list[str], filename: str) -> Response:
        if self.wants_csv:
            return Response(CsvTable(columns, rows, filename))
        paginator = ListPagination()
        page = paginator.paginate_queryset(rows, self.request, view=self)
        assert page is not None
        body = {
            **meta,
            "count": len(rows),
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": page,
        }
        return Response(body)

    def handle_exception(self, exc):  # type: ignore[no-untyped-def]
        if isinstance(exc, selectors.ReportNotFound):
            exc = NotFound(str(exc))
        elif isinstance(exc, selectors.ReportConflict):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(response, "exception", False):
            # Errors keep the API's JSON format even when CSV was asked for.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        if not getattr(response, "exception", False) and response.status_code in (200, 304):
            self._stamp(response)
            if isinstance(response, Response) and getattr(self, "_body_key", None):
                response.add_post_render_callback(self._remember)
        return response


def _report_schema(query: type, body: type, summary: str, description: str):  # type: ignore[no-untyped-def]
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[CONSORTIUM_SLUG, query],
        responses={
            (200, "application/json"): body,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The whole report as CSV."),
            304: NOT_MODIFIED,
            **ERRORS,
        },
        tags=["reports"],
    )


class SavingsReportView(ReportView):
    query_serializer = s.SavingsQuerySerializer
    cache_bodies = True
    _latest_run: selectors.SimulationRun | None = None

    def api_key_lookup(self, prefix: str) -> ApiKey | None:
        """The API key, and with it the scenario's latest succeeded run (if the scenario is the key's
        consortium's): one database round trip instead of two on a dashboard's every request.

        Bad parameters or a chosen run take the plain lookup: credentials are judged before
        parameters, and errors come from the usual path."""
        try:
            params = self.query()
        except ValidationError:
            return api_key_get(prefix)
        if "run" in params:
            return api_key_get(prefix)
        api_key, self._latest_run = selectors.api_key_and_latest_run_get(prefix=prefix, scenario_id=params["scenario"])
        return api_key

    @_report_schema(
        s.SavingsQuerySerializer,
        s.SavingsReportSerializer,
        "Savings per member",
        "Each member's outside option (stand-alone cost), allocated cost, headline savings (US$ and %; `headline` "
        "says what they are), P10/P50/P90 band, probability of saving, settlement, savings at central parameters, "
        "savings vs no consortium and note, for one run (default: the scenario's latest succeeded run) and rule.",
    )
    def get(self, request, slug: str) -> Response:  # type: ignore[no-untyped-def]
        consortium = self.consortium_get(slug)
        params = self.query()
        if self._latest_run is not None and "run" not in params:
            source = selectors.SavingsSource(self._latest_run)
        else:
            source = selectors.savings_source_get(
                consortium=consortium, scenario_id=params["scenario"], run_id=params.get("run")
            )
        if response := self.answer_early(source.etag(*self.variant()), source.last_modified):
            return response
        report = selectors.savings_report_get(source=source, rule=params.get("rule"))
        rows = report.rows
        if "lab" in params:
            wanted = set(params["lab"])
            rows = [row for row in rows if row["lab"] in wanted]
        if "ordering" in params:
            key = params["ordering"].lstrip("-")
            rows = sorted(rows, key=lambda row: (row[key] is None, row[key]), reverse=params["ordering"][0] == "-")
        filename = f"savings-{consortium.slug}-run{report.run.pk}-{report.rule}.csv"
        return self.page(
            {"consortium": consortium.slug, **report.meta()}, rows, list(selectors.SAVINGS_COLUMNS), filename
        )


class ComparisonReportView(ReportView):
    query_serializer = s.ComparisonQuerySerializer
    cache_bodies = True

    @_report_schema(
        s.ComparisonQuerySerializer,
        s.ComparisonReportSerializer,
        "Savings in several scenarios side by side",
        "Each lab's savings in two or more scenarios (their latest succeeded runs) under one rule, with differences "
        "from the first scenario listed (the baseline). With `runs` instead of `scenarios`, the succeeded runs given "
        "(two runs of one scenario, say) compare the same way. In CSV, one row per lab with `scenario_<id>_...` "
        "columns (`run_<id>_...` with `runs`).",
    )
    def get(self, request, slug: str) -> Response:  # type: ignore[no-untyped-def]
        consortium = self.consortium_get(slug)
        params = self.query()
        if "runs" in params:
            source = selectors.comparison_runs_source_get(consortium=consortium, run_ids=params["runs"])
        else:
            source = selectors.comparison_source_get(consortium=consortium, scenario_ids=params["scenarios"])
        if response := self.answer_early(source.etag(*self.variant()), source.last_modified):
            return response
        report = selectors.comparison_report_get(source=source, rule=params.get("rule"))
        meta = {
            "consortium": consortium.slug,
            "rule": report.rule,
            "baseline": report.scenarios[0]["scenario"],
            "scenarios": report.scenarios,
            "currency": selectors.CURRENCY,
            "explained": report.explained,
        }
        if self.wants_csv:
            rows = [
                selectors.comparison_csv_row(row, extra, report.prefixes)
                for row, extra in zip(report.rows, report.csv_extra, strict=True)
            ]
            ids = "-".join(f"run{info['run']}" if source.by_run else str(info["scenario"]) for info in report.scenarios)
            filename = f"comparison-{consortium.slug}-{ids}-{report.rule}.csv"
            return self.page(meta, rows, selectors.comparison_csv_columns(report), filename)
        return self.page(meta, report.rows, [], "")


class WindowReportView(ReportView):
    def window(self, params: dict[str, Any]) -> selectors.Window:
        return selectors.window_resolve(
            today=timezone.localdate(), window=params.get("window"), start=params.get("start"), end=params.get("end")
        )

    @staticmethod
    def window_meta(window: selectors.Window) -> dict[str, Any]:
        return {"window": window.name, "start": window.start, "end": window.end}


class ContributionsReportView(WindowReportView):
    query_serializer = s.ContributionsQuerySerializer

    @_report_schema(
        s.ContributionsQuerySerializer,
        s.ContributionsReportSerializer,
        "Pledged versus delivered compute",
        "GPU-hours pledged and delivered to the consortium and their value (US$), for ledger entries whose period "
        "starts in the window, grouped by lab, calendar quarter (`period`) and/or GPU type. Corrections are "
        "included: a reversal cancels the entry it reverses.",
    )
    def get(self, request, slug: str) -> Response:  # type: ignore[no-untyped-def]
        consortium = self.consortium_get(slug)
        params = self.query()
        window = self.window(params)
        source = selectors.contributions_source_get(consortium=consortium)
        if response := self.answer_early(source.etag(window, *self.variant()), source.last_modified):
            return response
        group_by = params["group_by"]
        rows = selectors.contributions_report_get(
            consortium=consortium, window=window, group_by=group_by, lab=params.get("lab")
        )
        meta = {"consortium": consortium.slug, **self.window_meta(window), "group_by": list(group_by)}
        filename = f"contributions-{consortium.slug}-{window.name}-{'-'.join(group_by)}.csv"
        return self.page(meta, rows, selectors.contributions_columns(group_by), filename)


class ReuseReportView(WindowReportView):
    query_serializer = s.ReuseQuerySerializer

    @_report_schema(
        s.ReuseQuerySerializer,
        s.ReuseReportSerializer,
        "GPU-hours saved through artifact reuse",
        "Realized GPU-hours saved by reusing artifacts inside the consortium (both the reusing and the owning lab "
        "are current members, candidates or observers), reused in the window, per reusing or per owning lab.",
    )
    def get(self, request, slug: str) -> Response:  # type: ignore[no-untyped-def]
        consortium = self.consortium_get(slug)
        params = self.query()
        window = self.window(params)
        source = selectors.reuse_source_get(consortium=consortium, window=window)
        if response := self.answer_early(source.etag(window, *self.variant()), source.last_modified):
            return response
        rows = selectors.reuse_report_get(consortium=consortium, window=window, by=params["by"])
        meta = {
            "consortium": consortium.slug,
            **self.window_meta(window),
            "by": params["by"],
            "total_gpu_hours_saved": sum(row["gpu_hours_saved"] for row in rows),
        }
        filename = f"reuse-{consortium.slug}-{window.name}-{params['by']}.csv"
        return self.page(meta, rows, list(selectors.REUSE_COLUMNS), filename)

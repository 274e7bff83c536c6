from django.urls import path
from rest_framework.routers import SimpleRouter

from . import keys, views

router = SimpleRouter()
router.register(r"consortia/(?P<slug>[-a-zA-Z0-9_]+)/api-keys", keys.ApiKeyViewSet, basename="api-key")

app_name = "reports-api"
urlpatterns = [
    path("consortia/<slug:slug>/reports/savings/", views.SavingsReportView.as_view(), name="savings"),
    path("consortia/<slug:slug>/reports/comparison/", views.ComparisonReportView.as_view(), name="comparison"),
    path("consortia/<slug:slug>/reports/contributions/", views.ContributionsReportView.as_view(), name="contributions"),
    path("consortia/<slug:slug>/reports/reuse/", views.ReuseReportView.as_view(), name="reuse"),
    *router.urls,
]

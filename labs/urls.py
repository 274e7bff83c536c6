from django.urls import path

import consortium.converters  # noqa: F401  (registers the "id" converter)

from . import views

app_name = "labs"
urlpatterns = [
    path("", views.lab_list, name="list"),
    path("<slug:slug>/", views.lab_detail, name="detail"),
    path("<slug:slug>/edit/", views.lab_edit, name="edit"),
    path("<slug:slug>/contributions/new/", views.contribution_new, name="contribution_new"),
    path("<slug:slug>/contributions/<id:pk>/correct/", views.contribution_correct, name="contribution_correct"),
    path("<slug:slug>/ledger.csv", views.ledger_csv, name="ledger_csv"),
    path("<slug:slug>/artifacts.csv", views.artifacts_csv, name="artifacts_csv"),
    path("<slug:slug>/reuse.csv", views.reuse_csv, name="reuse_csv"),
    path("<slug:slug>/artifacts/new/", views.artifact_new, name="artifact_new"),
    path("<slug:slug>/reuse/new/", views.reuse_new, name="reuse_new"),
]

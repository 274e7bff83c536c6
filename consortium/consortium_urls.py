from django.urls import path

import consortium.converters  # noqa: F401  (registers the "id" converter)
from reports import views as report_views
from simulations import advisor_views

from . import application_views, coordinator_views, views

app_name = "consortium"
urlpatterns = [
    path("", application_views.directory, name="directory"),
    path("new/", coordinator_views.consortium_new, name="new"),
    path(
        "applications/<int:pk>/accept/",
        application_views.application_answer,
        {"accept": True},
        name="application_accept",
    ),
    path(
        "applications/<int:pk>/decline/",
        application_views.application_answer,
        {"accept": False},
        name="application_decline",
    ),
    path("invitations/<int:pk>/accept/", views.invitation_answer, {"accept": True}, name="invitation_accept"),
    path("invitations/<int:pk>/decline/", views.invitation_answer, {"accept": False}, name="invitation_decline"),
    path("<slug:slug>/", views.consortium_detail, name="detail"),
    path("<slug:slug>/advisor/", advisor_views.advisor_panel, name="advisor"),
    path("<slug:slug>/apply/", application_views.application_new, name="apply"),
    path("<slug:slug>/charter/", coordinator_views.charter_edit, name="charter_edit"),
    path("<slug:slug>/coordinators/", coordinator_views.coordinators, name="coordinators"),
    path(
        "<slug:slug>/coordinators/<id:user_id>/remove/",
        coordinator_views.coordinator_remove,
        name="coordinator_remove",
    ),
    path("<slug:slug>/api-keys/", report_views.api_keys, name="api_keys"),
    path("<slug:slug>/api-keys/<id:pk>/revoke/", report_views.api_key_revoke_view, name="api_key_revoke"),
    path("<slug:slug>/members/change/", views.membership_change, name="membership_change"),
    path("<slug:slug>/contributions.csv", views.contributions_csv, name="contributions_csv"),
    path("<slug:slug>/artifacts.csv", views.artifacts_csv, name="artifacts_csv"),
    path("<slug:slug>/reuse.csv", views.reuse_csv, name="reuse_csv"),
]

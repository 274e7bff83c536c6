from django.urls import path

import consortium.converters  # noqa: F401  (registers the "id" converter)

from . import team_views, views

app_name = "labs"
urlpatterns = [
    path("", views.lab_list, name="list"),
    path("new/", team_views.lab_new, name="new"),
    path("invitations/<str:token>/", team_views.invitation, name="invitation"),
    path("<slug:slug>/", views.lab_detail, name="detail"),
    path("<slug:slug>/edit/", views.lab_edit, name="edit"),
    path("<slug:slug>/people/", team_views.lab_people, name="people"),
    path("<slug:slug>/people/invite/", team_views.lab_invite, name="invite"),
    path("<slug:slug>/people/<id:pk>/role/", team_views.lab_member_role, name="member_role"),
    path("<slug:slug>/people/<id:pk>/remove/", team_views.lab_member_remove, name="member_remove"),
    path("<slug:slug>/invitations/<id:pk>/revoke/", team_views.lab_invitation_revoke, name="invitation_revoke"),
    path("<slug:slug>/contributions/new/", views.contribution_new, name="contribution_new"),
    path("<slug:slug>/contributions/<id:pk>/correct/", views.contribution_correct, name="contribution_correct"),
    path("<slug:slug>/ledger.csv", views.ledger_csv, name="ledger_csv"),
    path("<slug:slug>/artifacts.csv", views.artifacts_csv, name="artifacts_csv"),
    path("<slug:slug>/reuse.csv", views.reuse_csv, name="reuse_csv"),
    path("<slug:slug>/artifacts/new/", views.artifact_new, name="artifact_new"),
    path("<slug:slug>/reuse/new/", views.reuse_new, name="reuse_new"),
]

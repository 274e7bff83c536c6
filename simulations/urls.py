from django.urls import path

import consortium.converters  # noqa: F401  (registers the "id" converter)

from . import lever_views, views, whatif_views

app_name = "simulations"
urlpatterns = [
    path("consortia/<slug:slug>/scenarios/new/", views.scenario_new, name="scenario_new"),
    path("consortia/<slug:slug>/games/new/", views.custom_game_new, name="custom_game_new"),
    path("scenarios/<id:pk>/game/", views.custom_game_edit, name="custom_game_edit"),
    path("consortia/<slug:slug>/compare/", views.compare, name="compare"),
    path("consortia/<slug:slug>/compare.csv", views.compare_csv, name="compare_csv"),
    path("scenarios/<id:pk>/", views.scenario_detail, name="scenario"),
    path("scenarios/<id:pk>/edit/", views.scenario_edit, name="scenario_edit"),
    path("scenarios/<id:pk>/duplicate/", views.scenario_duplicate, name="scenario_duplicate"),
    path("scenarios/<id:pk>/archive/", views.scenario_archive, {"archive": True}, name="scenario_archive"),
    path("scenarios/<id:pk>/unarchive/", views.scenario_archive, {"archive": False}, name="scenario_unarchive"),
    path("scenarios/<id:pk>/run/", views.run_start, name="run_start"),
    path("scenarios/<id:pk>/whatif/", whatif_views.whatif_panel, name="whatif"),
    path("scenarios/<id:pk>/whatif/save/", whatif_views.whatif_save, name="whatif_save"),
    path("scenarios/<id:pk>/levers/", lever_views.lever_study_start, name="lever_study_start"),
    path("levers/<id:pk>/progress/", lever_views.lever_study_progress, name="lever_study_progress"),
    path("runs/<id:pk>/", views.run_detail, name="run"),
    path("runs/<id:pk>/progress/", views.run_progress, name="run_progress"),
    path("runs/<id:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<id:pk>/report/<id:lab_id>/", views.member_report, name="member_report"),
    path("runs/<id:pk>/<str:table>.csv", views.run_csv, name="run_csv"),
]

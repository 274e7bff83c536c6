from django.urls import path

from . import views

app_name = "simulations"
urlpatterns = [
    path("consortia/<slug:slug>/scenarios/new/", views.scenario_new, name="scenario_new"),
    path("consortia/<slug:slug>/compare/", views.compare, name="compare"),
    path("consortia/<slug:slug>/compare.csv", views.compare_csv, name="compare_csv"),
    path("scenarios/<int:pk>/", views.scenario_detail, name="scenario"),
    path("scenarios/<int:pk>/edit/", views.scenario_edit, name="scenario_edit"),
    path("scenarios/<int:pk>/run/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/report/<int:lab_id>/", views.member_report, name="member_report"),
    path("runs/<int:pk>/<str:table>.csv", views.run_csv, name="run_csv"),
]

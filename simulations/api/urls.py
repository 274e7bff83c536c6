from django.urls import path

from . import advisor, levers, views

urlpatterns = [
    path("scenarios/<int:pk>/runs/", views.ScenarioRunsView.as_view(), name="api-scenario-runs"),
    path("scenarios/<int:pk>/advisor/", advisor.ScenarioAdvisorView.as_view(), name="api-scenario-advisor"),
    path("scenarios/<int:pk>/levers/", levers.ScenarioLeverStudiesView.as_view(), name="api-scenario-levers"),
    path("levers/<int:pk>/", levers.LeverStudyDetailView.as_view(), name="api-lever-study-detail"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="api-run-detail"),
    path("runs/<int:pk>/results/", views.RunResultsView.as_view(), name="api-run-results"),
    path("runs/<int:pk>/focus/", views.RunFocusView.as_view(), name="api-run-focus"),
    path("runs/<int:pk>/cancel/", views.RunCancelView.as_view(), name="api-run-cancel"),
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import applications, games, views

router = SimpleRouter()
router.register("consortia", views.ConsortiumViewSet, basename="consortium")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("scenarios", views.ScenarioViewSet, basename="scenario")
router.register("applications", applications.ApplicationViewSet, basename="application")

urlpatterns = [
    path("games/", games.CustomGameCreateView.as_view(), name="api-game-create"),
    path("games/<int:pk>/", games.CustomGameUpdateView.as_view(), name="api-game-update"),
    *router.urls,
]

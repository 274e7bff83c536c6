from rest_framework.routers import SimpleRouter

from . import applications, views

router = SimpleRouter()
router.register("consortia", views.ConsortiumViewSet, basename="consortium")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("scenarios", views.ScenarioViewSet, basename="scenario")
router.register("applications", applications.ApplicationViewSet, basename="application")

urlpatterns = router.urls

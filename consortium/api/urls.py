from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("consortia", views.ConsortiumViewSet, basename="consortium")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("scenarios", views.ScenarioViewSet, basename="scenario")

urlpatterns = router.urls

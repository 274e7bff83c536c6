from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("consortia", views.ConsortiumViewSet, basename="consortium")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("scenarios", views.ScenarioViewSet, basename="scenario")

urlpatterns = router.urls

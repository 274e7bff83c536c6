from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("labs", views.LabViewSet, basename="lab")
router.register("contributions", views.ContributionViewSet, basename="contribution")
router.register("artifacts", views.ArtifactViewSet, basename="artifact")
router.register("reuses", views.ReuseViewSet, basename="reuse")

urlpatterns = router.urls

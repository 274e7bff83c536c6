from rest_framework.routers import SimpleRouter

from . import invitations, views

router = SimpleRouter()
router.register("labs", views.LabViewSet, basename="lab")
router.register("contributions", views.ContributionViewSet, basename="contribution")
router.register("artifacts", views.ArtifactViewSet, basename="artifact")
router.register("reuses", views.ReuseViewSet, basename="reuse")
router.register("lab-invitations", invitations.LabInvitationViewSet, basename="lab-invitation")

urlpatterns = router.urls

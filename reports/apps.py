from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (registers the Api-Key scheme with drf-spectacular)

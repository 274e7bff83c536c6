"""Re-send queued runs the broker never received and recover lost work, once or in a loop.

Every worker already does this every SIMULATION_DISPATCH_INTERVAL seconds; the command is for
operators (cron, or after restoring a database) and for deployments that want it out of the worker.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from simulations.dispatch import redispatch_and_watch


class Command(BaseCommand):
    help = "Send queued runs that never reached the broker, re-send lost chunks and fail runs stuck without progress."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Repeat every SIMULATION_DISPATCH_INTERVAL seconds.")

    def handle(self, *args, loop: bool = False, **options):
        while True:
            done = redispatch_and_watch()
            self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in done.items()))
            if not loop:
                return
            time.sleep(settings.SIMULATION_DISPATCH_INTERVAL)

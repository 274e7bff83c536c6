"""Send again the work of every queued or running run whose messages may be gone, once or in a loop.

Every worker already watches for lost work every SIMULATION_DISPATCH_INTERVAL seconds; the command
is for operators (after restoring a database, after the broker lost its data, with workers stopped)
and for deployments that want the watchdog out of the worker.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from simulations.dispatch import redispatch_and_watch


class Command(BaseCommand):
    help = (
        "Send again every queued run and every chunk or merge of a running run that no worker is computing "
        "(duplicates are harmless); with --loop, keep watching for lost work."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            action="store_true",
            help="After the first pass, repeat the worker's watchdog pass every SIMULATION_DISPATCH_INTERVAL seconds.",
        )

    def handle(self, *args, loop: bool = False, **options):
        everything = True
        while True:
            done = redispatch_and_watch(everything=everything)
            self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in done.items()))
            if not loop:
                return
            everything = False
            time.sleep(settings.SIMULATION_DISPATCH_INTERVAL)

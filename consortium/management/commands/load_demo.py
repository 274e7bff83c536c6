"""`manage.py load_demo`: the illustrative demo consortium and its demo users, loaded idempotently."""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consortium.demo import DATA_PATH
from consortium.demo.loader import DEFAULT_PASSWORD, demo_load


class Command(BaseCommand):
    help = (
        "Load the illustrative demo consortium (made-up labs, four quarters of ledger, artifacts, reuse, "
        "three scenarios) and its demo users. Running it again changes nothing. Passwords come from "
        f"DEMO_PASSWORD (default {DEFAULT_PASSWORD!r})."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--force", action="store_true", help="Load even with DEBUG off (demo users with a known password!)."
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set every existing demo user's password to DEMO_PASSWORD again.",
        )
        parser.add_argument(
            "--no-runs", action="store_true", help="Do not queue a first simulation run of each scenario."
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        # Demo users have a published password: a production database must never get them by accident.
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to load the demo with DEBUG off: it creates users with a published password. "
                "Pass --force to load it anyway."
            )
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD
        # The services log each membership change and run at INFO: a few dozen lines that would
        # bury the password table below.
        logging.disable(logging.INFO)
        try:
            summary = demo_load(
                password=password, reset_passwords=options["reset_passwords"], queue_runs=not options["no_runs"]
            )
        finally:
            logging.disable(logging.NOTSET)

        consortium = summary.consortium
        if summary.created:
            made = ", ".join(f"{count} {what}" for what, count in summary.created.items())
            self.stdout.write(f"Demo consortium {consortium.name!r}: created {made}.")
        else:
            self.stdout.write(f"Demo consortium {consortium.name!r} is already loaded; nothing changed.")
        self.stdout.write(
            f"Illustrative data: made-up labs with magnitudes scaled from public figures (sources in {DATA_PATH.name})."
        )
        self.stdout.write("")
        self.stdout.write("Demo users (sign in at /accounts/login/):")
        rows = [("username", "role", "password")] + [(c.username, c.role, c.secret) for c in summary.credentials]
        widths = [max(len(row[column]) for row in rows) for column in range(2)]
        for number, (username, role, secret) in enumerate(rows):
            self.stdout.write(f"  {username:<{widths[0]}}  {role:<{widths[1]}}  {secret}")
            if number == 0:
                self.stdout.write(f"  {'-' * widths[0]}  {'-' * widths[1]}  {'-' * len(secret)}")
        self.stdout.write(
            "Passwords are set when a demo user is created; --reset-passwords sets them to DEMO_PASSWORD again."
        )
        self.stdout.write("")
        port = os.environ.get("PORT") or "8000"
        self.stdout.write(f'API: curl -H "Authorization: Token {summary.token}" http://127.0.0.1:{port}/api/v1/labs/')

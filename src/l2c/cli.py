"""The `l2c` console command: serve, worker, scheduler, demo, manage."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l2c.settings")
    import django

    django.setup()


def _manage(argv: Sequence[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l2c.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["l2c manage", *argv])


def _print_banner(host: str, port: int) -> None:
    from django.conf import settings

    from l2c.apps.demo.services import DEMO_USERS

    print(f"\nL2C is running on http://{host}:{port}/", flush=True)
    print(f"Demo logins (password: {settings.DEMO_PASSWORD}):", flush=True)
    for username, _name, role_label in DEMO_USERS:
        print(f"  {username:<10} {role_label}", flush=True)
    print("Stop with Ctrl+C.\n", flush=True)


def serve(host: str, port: int, demo: bool, workers: int) -> int:
    """Migrate, optionally load demo data, then run web app + task worker + scheduler together."""
    # Embedded mode serves plain HTTP on this machine; secure-only cookies would break log-in.
    os.environ.setdefault("L2C_HTTPS", "0")
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    if demo:
        from l2c.apps.demo.services import demo_load_if_empty

        demo_load_if_empty(stdout=sys.stdout)
        os.environ.setdefault("L2C_SHOW_DEMO_LOGINS", "1")
    from l2c.apps.activity.maintenance import planner_statistics_missing, refresh_planner_statistics

    if planner_statistics_missing():
        refresh_planner_statistics()
    python = sys.executable
    children = [
        subprocess.Popen([python, "-m", "l2c.cli", "worker"]),  # noqa: S603
        subprocess.Popen([python, "-m", "l2c.cli", "scheduler"]),  # noqa: S603
        subprocess.Popen(  # noqa: S603
            [
                python, "-m", "gunicorn", "l2c.wsgi:application",
                "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "5",
            ]
        ),
    ]
    time.sleep(1.0)
    _print_banner(host, port)

    def _stop(_signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    exit_code = 0
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        _stop(0, None)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
            exit_code = exit_code or (child.returncode or 0)
    return 0 if exit_code in (0, -signal.SIGTERM) else exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["manage"]:
        _manage(args_list[1:])
        return 0
    parser = argparse.ArgumentParser(prog="l2c", description="L2C lead-to-cash sales force automation")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="migrate and run web app, task worker and scheduler")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--demo", action="store_true", help="load demo data into an empty database")
    serve_parser.add_argument("--workers", type=int, default=2, help="web worker processes")
    worker_parser = commands.add_parser("worker", help="run a background task worker")
    worker_parser.add_argument("--queue-name", default="default")
    commands.add_parser("scheduler", help="enqueue periodic jobs, once per occurrence")
    demo_parser = commands.add_parser("demo", help="load the demo company into an empty database")
    demo_parser.add_argument("--force", action="store_true", help="load into a database that has other data")
    commands.add_parser("manage", help="Django's manage.py (l2c manage migrate, …)")
    args = parser.parse_args(args_list)

    if args.command == "serve":
        return serve(args.host, args.port, args.demo, args.workers)
    if args.command == "worker":
        _manage(["db_worker", "--queue-name", args.queue_name, "--interval", "0.2", "--no-reload"])
        return 0
    if args.command == "scheduler":
        _manage(["l2c_scheduler"])
        return 0
    if args.command == "demo":
        _setup_django()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        from l2c.apps.demo.services import demo_load, demo_load_if_empty
        from l2c.kernel.errors import DomainError

        try:
            if args.force:
                demo_load(stdout=sys.stdout)
            elif not demo_load_if_empty(stdout=sys.stdout):
                print("The database already holds the demo company; nothing loaded.")
        except DomainError as error:
            print(f"Demo data not loaded: {error.detail}", file=sys.stderr)
            return 1
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

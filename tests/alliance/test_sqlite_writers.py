"""The embedded SQLite default must take several writers at once without "database is locked".

Runs the local-demo settings in a subprocess on a file database (the test database itself may
be PostgreSQL or in-memory SQLite, neither of which shows the problem).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import threading
    import django
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from accounts.models import User

    call_command("migrate", verbosity=0)
    errors, done = [], []
    barrier = threading.Barrier(8)

    def writer(n):
        try:
            barrier.wait()
            for i in range(15):
                # Read, then write, in one transaction: the pattern that fails with SQLite's
                # default deferred transactions when two connections race to upgrade.
                with transaction.atomic():
                    User.objects.filter(role="customer").count()
                    User.objects.create(phone=f"+86136{n:02d}{i:06d}")
                done.append(1)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print("errors", len(errors), errors[:3])
    print("rows", User.objects.count(), "writes", len(done))
    """
)


def test_local_sqlite_takes_concurrent_writers(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="alliance.settings.local",
        DJANGO_SQLITE_PATH=str(tmp_path / "demo.sqlite3"),
    )
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "errors 0 []" in out.stdout, out.stdout
    assert "rows 120 writes 120" in out.stdout, out.stdout

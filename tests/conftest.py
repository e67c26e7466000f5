"""Shared fixtures: users of every role (made through our services), a browser, a real worker."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection

from tests.factories import BranchFactory, UserFactory  # noqa: F401  (re-exported for tests)


def skip_or_fail(reason: str) -> None:
    """Locally a missing service skips a test; under CI it is a failure, so nothing that CI
    must prove can quietly skip there."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _postgres_marker(request):
    """Tests marked ``postgres`` need real concurrent connections and row locks."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        skip_or_fail("row locks and concurrent connections need PostgreSQL (set DATABASE_URL)")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Hints kept in the cache (a coupon sold out...) and templates' terms kept by the claim
    must not leak into the next test, whose rows may reuse the same ids."""
    from django.core.cache import cache

    from coupons.services import claiming

    cache.clear()
    claiming._terms.clear()
    yield
    cache.clear()
    claiming._terms.clear()


@pytest.fixture
def branch(db):
    return BranchFactory(code="HZ001", name="West Lake", lat=30.2590, lng=120.1640)


@pytest.fixture
def other_branch(db):
    return BranchFactory(code="HZ002", name="Qianjiang", lat=30.2450, lng=120.2100)


@pytest.fixture
def customer(db):
    return UserFactory(role="customer")


@pytest.fixture
def head_office(db):
    return UserFactory(role="head_office", username="ho-admin")


@pytest.fixture
def officer(db, branch):
    return UserFactory(role="branch_officer", username="officer-a", branch=branch)


@pytest.fixture
def other_officer(db, other_branch):
    return UserFactory(role="branch_officer", username="officer-b", branch=other_branch)


@pytest.fixture
def manager(db, branch):
    return UserFactory(role="branch_manager", username="manager-a", branch=branch)


@pytest.fixture
def merchant_owner(db):
    return UserFactory(role="merchant_owner", password="Counter-2026!")


# --- Browser ---------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser build)."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail("chromium is not installed (apt-get install chromium; .ci/run does)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM is used beside it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


class _OneRequestAtATime(ThreadedWSGIServer):
    """A live server that answers one request at a time (each still read on its own thread, so
    a connection the browser opens and leaves idle blocks nobody): the response is made,
    read through and closed under one lock."""

    _lock = threading.Lock()

    def get_app(self):
        app = super().get_app()

        def one_at_a_time(environ, start_response):
            with self._lock:
                response = app(environ, start_response)
                try:
                    return [b"".join(response)]
                finally:
                    if hasattr(response, "close"):
                        response.close()

        return one_at_a_time


@pytest.fixture(scope="session", autouse=True)
def _live_server_on_sqlite():
    """On SQLite the test database is in memory, and the live server's threads share its one
    connection: two requests at once (a page's two photos) interleaved their transactions on
    it ("cannot start a transaction within a transaction"), a test failing now and then. There
    the live server answers one request at a time. On PostgreSQL (CI) every thread has its own
    connection and requests run side by side, as in production."""
    from django.test.testcases import LiveServerThread

    if connection.vendor != "sqlite":
        yield
        return
    original = LiveServerThread.server_class
    LiveServerThread.server_class = _OneRequestAtATime
    yield
    LiveServerThread.server_class = original


@pytest.fixture
def phone_page(browser, live_server):
    """A page on a phone-sized viewport (iPhone 12-ish), Chinese UI."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        base_url=live_server.url,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def desk_page(browser, live_server):
    """A page on a bank PC."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=live_server.url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- Celery worker -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, live_server):
    """A real ``celery worker`` process on the test database and its own queue.

    Tests that use it must commit their data (``transactional_db``) so the worker sees it.
    Without a reachable broker the tests are skipped locally and fail in CI.
    """
    from django.conf import settings

    from alliance.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any broker failure means "no worker here"
        skip_or_fail(f"Celery broker {settings.CELERY_BROKER_URL} is not reachable: {exc}")

    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "alliance.settings.test"
    # What the worker itself schedules (a retry, the sandbox's next notification) stays on
    # this queue; the sandbox's notifications reach the live server over real HTTP.
    env["DJANGO_CELERY_TASK_DEFAULT_QUEUE"] = queue
    env["DJANGO_SANDBOX_NOTIFY_TRANSPORT"] = "http"
    env["DJANGO_PUBLIC_BASE_URL"] = live_server.url  # notify URLs the worker hands a channel
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        if db["NAME"] == ":memory:" or "mode=memory" in str(db["NAME"]):
            skip_or_fail("the worker cannot share an in-memory SQLite database; use PostgreSQL")
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    log_path = os.path.join(tempfile.gettempdir(), f"celery-{queue}.log")
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "alliance",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120  # a loaded 2-core machine can take a while to import
    while time.monotonic() < deadline and proc.poll() is None:
        with open(log_path) as f:
            if "ready." in f.read():
                break
        time.sleep(0.2)
    else:
        proc.kill()
        with open(log_path) as f:
            pytest.fail("celery worker did not start:\n" + f.read()[-3000:])
    app.conf.task_default_queue = queue
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session", autouse=True)
def _no_stray_database_sessions(django_db_setup, django_db_blocker):
    """At the end, report (and end) PostgreSQL sessions that tests left open on the test
    database, so teardown can drop it; a leak shows up as a warning naming its last query."""
    yield
    if connection.vendor != "postgresql":
        return
    import warnings

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # A session whose client has just gone (a live server's or a worker's thread) stays
        # listed for a moment after: only one still there after three seconds is a leak.
        deadline = time.monotonic() + 3
        while True:
            cursor.execute(
                "SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            stray = cursor.fetchall()
            if not stray or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for pid, app, state, query in stray:
            warnings.warn(f"stray database session {pid} ({app}, {state}): {query}", stacklevel=1)
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

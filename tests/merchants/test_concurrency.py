"""Approvals at the same moment (PostgreSQL: real connections, row locks, partial unique index)."""

import threading

import pytest

from alliance.celery import app as celery_app
from alliance.errors import ApplicationError
from merchants import services
from merchants.models import Merchant, MerchantApplication, MerchantStaff, Store
from tests.factories import BranchFactory, UserFactory
from tests.merchants.factories import credit_code, fee_plan, submitted_application

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Committed branch openings queue re-gridding: run it in-process, not on a broker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def run_at_once(calls) -> list:
    """Run each call in its own thread (own connection), released together."""
    barrier = threading.Barrier(len(calls))
    results = []
    lock = threading.Lock()

    def worker(call):
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            outcome = call()
        except ApplicationError as exc:
            outcome = exc.code
        finally:
            thread_connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_reviewers_approving_one_application_make_one_merchant():
    branch = BranchFactory(code="HZ001", lat=30.2590, lng=120.1640)
    officer = UserFactory(role="branch_officer", branch=branch)
    head_office = UserFactory(role="head_office")
    manager = UserFactory(role="branch_manager", branch=branch)
    app = submitted_application()
    plan = fee_plan()

    def approve(reviewer):
        return lambda: services.application_approve(
            actor=reviewer, application_id=app.pk, fee_plan_id=plan.pk
        )

    results = run_at_once(
        [approve(officer), approve(head_office), approve(manager), approve(officer)]
    )
    merchants = [r for r in results if isinstance(r, Merchant)]
    assert len(merchants) == 1
    assert sorted(r for r in results if isinstance(r, str)) == ["invalid_transition"] * 3
    assert Merchant.objects.count() == 1 and Store.objects.count() == 1
    assert MerchantStaff.objects.count() == 1
    app.refresh_from_db()
    assert app.status == "approved"
    assert app.status_changes.filter(to_status="approved").count() == 1


def test_two_applications_with_one_credit_code_make_one_live_merchant():
    BranchFactory(code="HZ001", lat=30.2590, lng=120.1640)
    head_office = UserFactory(role="head_office")
    other_reviewer = UserFactory(role="head_office")
    code = credit_code()
    first = submitted_application(code=code)
    second = submitted_application(code=code)
    plan = fee_plan()
    results = run_at_once(
        [
            lambda: services.application_approve(
                actor=head_office, application_id=first.pk, fee_plan_id=plan.pk
            ),
            lambda: services.application_approve(
                actor=other_reviewer, application_id=second.pk, fee_plan_id=plan.pk
            ),
        ]
    )
    assert sorted(type(r).__name__ if not isinstance(r, str) else r for r in results) == [
        "Merchant",
        "duplicate_credit_code",
    ]
    assert Merchant.objects.filter(credit_code=code).count() == 1
    # The loser's application is still waiting, untouched.
    assert MerchantApplication.objects.filter(status="submitted").count() == 1

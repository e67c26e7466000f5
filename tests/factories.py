"""Factories that build state through our own services where a service exists."""

import factory

from accounts.models import User
from branches import services as branch_services


class UserFactory(factory.django.DjangoModelFactory):
    """Users of any role. (Accounts are created by sign-in and onboarding flows; staff by head
    office in the admin, which is this same model save.)"""

    class Meta:
        model = User
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"+86139{n:08d}")
    role = "customer"
    name = factory.Sequence(lambda n: f"User {n}")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):  # noqa: N805
        if extracted:
            obj.set_password(extracted)
        else:
            obj.set_unusable_password()
        if create:
            obj.save()


class BranchFactory(factory.Factory):
    """Branches are opened through ``branch_open`` (as the system), like head office does."""

    class Meta:
        model = dict

    code = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.Sequence(lambda n: f"Branch {n}")
    address = "1 Test Road"
    lat = 30.25
    lng = 120.16
    reason = "test"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return branch_services.branch_open(actor=None, **kwargs)

    _build = _create

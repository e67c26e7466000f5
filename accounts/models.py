from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .phones import mask_phone
from .roles import BRANCH_ROLES, Role

# In declaration order: a set's order changes between runs and would make new migrations.
_BRANCH_ROLES = sorted(BRANCH_ROLES, key=list(Role).index)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **fields):
        user = self.model(phone=phone, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **fields):
        fields.setdefault("role", Role.HEAD_OFFICE)
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(phone, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who signs in. Identified by a mainland mobile number stored as E.164.

    Bank staff additionally have a ``username`` they sign in with (plus TOTP); branch staff
    belong to one branch and see only its grid.
    """

    phone = models.CharField(_("mobile number"), max_length=16, unique=True)
    username = models.CharField(_("staff username"), max_length=64, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=64, blank=True)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.CUSTOMER)
    branch = models.ForeignKey(
        "branches.Branch",
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("may use Django admin"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Branch staff always have their branch; nobody else has one.
            models.CheckConstraint(
                condition=(Q(role__in=_BRANCH_ROLES) & Q(branch__isnull=False))
                | (~Q(role__in=_BRANCH_ROLES) & Q(branch__isnull=True)),
                name="user_branch_iff_branch_role",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.username or self.masked_phone

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


class SmsCode(models.Model):
    """A one-time sign-in code sent by SMS. Only a keyed hash of the code is stored.

    Rows also serve as the record the SMS rate limits count (per phone, per client address).
    """

    phone = models.CharField(_("mobile number"), max_length=16)
    code_hash = models.CharField(max_length=64)
    client_ip = models.GenericIPAddressField(_("requested from"))
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS code")
        verbose_name_plural = _("SMS codes")
        indexes = [
            models.Index(fields=["phone", "created_at"], name="smscode_phone_created"),
            models.Index(fields=["client_ip", "created_at"], name="smscode_ip_created"),
            models.Index(fields=["created_at"], name="smscode_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="smscode_expires_after_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"{mask_phone(self.phone)} @ {self.created_at:%Y-%m-%d %H:%M}"


class SmsRequestLock(models.Model):
    """One row per phone number and per client address that asked for a code.

    A code request updates its two rows before counting: the row locks queue concurrent
    requests for the same phone or address, so two of them cannot both pass a rate limit.
    """

    key = models.CharField(max_length=64, unique=True)
    touched_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key

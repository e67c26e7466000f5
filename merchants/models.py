"""Merchants of the alliance: applications, merchants, their stores, staff, visits and history.

States and who may move them live in ``merchants.services``; here are the data and the
invariants the database keeps even if a caller forgets a rule (one merchant per application, one
live merchant per credit code, one owner per merchant, one open application per applicant...).
History rows (``StatusChange``, ``ProfileChange`` once decided) are never edited.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from accounts.phones import mask_phone
from branches.models import GriddedPlace

from .crypto import EncryptedTextField, mask_account


def _in(field: str, choices) -> Q:
    return Q(**{f"{field}__in": [c.value for c in choices]})


class Category(models.TextChoices):
    FOOD = "food", _("Food")
    DRINKS = "drinks_desserts", _("Drinks and desserts")
    LEISURE = "leisure", _("Leisure and entertainment")
    BEAUTY = "beauty_hair", _("Beauty and hair")
    SERVICES = "life_services", _("Life services")
    RETAIL = "retail", _("Retail and convenience")
    KIDS = "kids_education", _("Kids and education")
    SPORTS = "sports_fitness", _("Sports and fitness")


class Immutable(models.Model):
    """A history row: written once, never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are history and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are history and cannot be deleted.")


class FeePlan(models.Model):
    """What the alliance charges a merchant on its takings (head-office data)."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    rate_bp = models.PositiveIntegerField(
        _("rate (basis points)"),
        validators=[MaxValueValidator(10_000)],
        help_text=_("1 basis point is 0.01 %; 60 means 0.6 %."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("fee plan")
        verbose_name_plural = _("fee plans")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_bp__gte=0, rate_bp__lte=10_000), name="feeplan_rate_bp_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate_bp / 100:.2f}%)"


class SettlementAccount(models.Model):
    """Who the merchant is legally and where its money goes. Account name and number are
    encrypted at rest and shown masked."""

    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    legal_representative = models.CharField(_("legal representative"), max_length=64, blank=True)
    settlement_bank = models.CharField(_("settlement bank"), max_length=100, blank=True)
    settlement_account_name = EncryptedTextField(_("settlement account name"), blank=True)
    settlement_account_number = EncryptedTextField(_("settlement account number"), blank=True)

    class Meta:
        abstract = True

    @property
    def masked_account_number(self) -> str:
        return mask_account(self.settlement_account_number)


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    RETURNED = "returned", _("Returned for changes")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class MerchantApplication(SettlementAccount, GriddedPlace):
    """An application to join (商户入驻): a draft the applicant can resume, then a review.

    It is a gridded place (its store's location), so it sits in the queue of the branch whose
    grid holds the store and follows re-gridding like a store would. The location may be empty
    while the application is a draft.
    """

    Status = ApplicationStatus

    OPEN = (Status.DRAFT, Status.SUBMITTED, Status.RETURNED)
    DECIDED = (Status.APPROVED, Status.REJECTED)

    # Located's columns, nullable while drafting.
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    h3_cell = models.BigIntegerField(_("H3 cell"), db_index=True, editable=False, null=True)

    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applicant"),
        on_delete=models.PROTECT,
        related_name="merchant_applications",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    business_name = models.CharField(_("business name"), max_length=100, blank=True)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=16, blank=True)
    store_name = models.CharField(_("store name"), max_length=100, blank=True)
    store_address = models.CharField(_("store address"), max_length=200, blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_reason = models.TextField(_("reason or comments"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta(GriddedPlace.Meta):
        verbose_name = _("merchant application")
        verbose_name_plural = _("merchant applications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="merchantapp_queue")]
        constraints = [
            *GriddedPlace.Meta.constraints,
            models.CheckConstraint(
                condition=_in("status", ApplicationStatus), name="merchantapp_status_valid"
            ),
            # At most one open application per applicant: "resume", not "start again".
            models.UniqueConstraint(
                fields=["applicant"],
                condition=Q(status__in=["draft", "submitted", "returned"]),
                name="merchantapp_one_open_per_applicant",
            ),
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lng__isnull=True, h3_cell__isnull=True)
                | Q(lat__isnull=False, lng__isnull=False, h3_cell__isnull=False),
                name="merchantapp_location_whole",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False, lat__isnull=False),
                name="merchantapp_submitted_has_time_and_place",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "rejected", "returned"])
                | Q(reviewer__isnull=False, decided_at__isnull=False),
                name="merchantapp_decision_has_reviewer",
            ),
        ]

    def __str__(self) -> str:
        return self.business_name or f"#{self.pk}"

    @property
    def masked_contact_phone(self) -> str:
        return mask_phone(self.contact_phone) if self.contact_phone else ""


def application_document_path(instance, filename: str) -> str:
    # The name is ours (the client's file name is not trusted): random, with the real extension.
    return f"merchants/applications/{instance.application_id}/{filename}"


class DocumentKind(models.TextChoices):
    LICENCE = "licence", _("Business licence")
    STOREFRONT = "storefront", _("Storefront photo")


class ApplicationDocument(models.Model):
    """A photo attached to an application: the business licence or the storefront."""

    Kind = DocumentKind

    application = models.ForeignKey(
        MerchantApplication, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    image = models.ImageField(
        _("image"),
        upload_to=application_document_path,
        width_field="width",
        height_field="height",
        max_length=200,
    )
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField(_("bytes"))
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("application document")
        verbose_name_plural = _("application documents")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=_in("kind", DocumentKind), name="appdoc_kind_valid"),
            models.CheckConstraint(
                condition=Q(size__lte=5 * 1024 * 1024), name="appdoc_size_at_most_5mb"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class Merchant(SettlementAccount):
    """A member of the alliance, created by approving its application."""

    Status = MerchantStatus

    code = models.CharField(_("merchant code"), max_length=16, unique=True, editable=False)
    application = models.OneToOneField(
        MerchantApplication,
        verbose_name=_("application"),
        on_delete=models.PROTECT,
        related_name="merchant",
    )
    business_name = models.CharField(_("business name"), max_length=100)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    contact_phone = models.CharField(_("contact phone"), max_length=16)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    fee_plan = models.ForeignKey(
        FeePlan, verbose_name=_("fee plan"), on_delete=models.PROTECT, related_name="merchants"
    )
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=_in("status", MerchantStatus), name="merchant_status_valid"
            ),
            models.CheckConstraint(
                condition=_in("category", Category), name="merchant_category_valid"
            ),
            # The check character is verified by the service; the database keeps the length.
            models.CheckConstraint(
                condition=Exact(Length("credit_code"), 18), name="merchant_credit_code_length"
            ),
            # One live merchant per credit code; a closed one frees it for a new application.
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~Q(status="closed"),
                name="merchant_live_credit_code_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.business_name} ({self.code})"

    @property
    def masked_contact_phone(self) -> str:
        return mask_phone(self.contact_phone)


class Store(GriddedPlace):
    """One shop of a merchant. Its location decides its branch (re-gridding moves it)."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="stores"
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("opened"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(GriddedPlace.Meta):
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


def store_photo_path(instance, filename: str) -> str:
    return f"merchants/stores/{instance.store_id}/{filename}"


class StorePhoto(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(
        _("image"),
        upload_to=store_photo_path,
        width_field="width",
        height_field="height",
        max_length=200,
    )
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("store photo")
        verbose_name_plural = _("store photos")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.image.name


class StaffRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    CASHIER = "cashier", _("Cashier")


class MerchantStaff(models.Model):
    """A user who works for a merchant. A user works for one merchant at most."""

    Role = StaffRole

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="staff")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchant_membership"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant staff member")
        verbose_name_plural = _("merchant staff")
        ordering = ["merchant_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=_in("role", StaffRole), name="merchantstaff_role_valid"
            ),
            models.UniqueConstraint(
                fields=["merchant"], condition=Q(role="owner"), name="merchantstaff_one_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant_id} ({self.role})"


class StatusChange(Immutable):
    """Who moved an application or a merchant from which state to which, when and why."""

    application = models.ForeignKey(
        MerchantApplication, on_delete=models.PROTECT, null=True, related_name="status_changes"
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, null=True, related_name="status_changes"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(application__isnull=False, merchant__isnull=True)
                | Q(application__isnull=True, merchant__isnull=False),
                name="statuschange_one_subject",
            ),
            models.CheckConstraint(
                condition=~Q(from_status=F("to_status")), name="statuschange_is_a_change"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class ProfileChangeStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ProfileChange(Immutable):
    """A change of a merchant's or store's profile.

    Free fields (hours, description, photos...) are applied at once and recorded as
    ``applied``. Legal and settlement details go to review: the row is ``pending`` with the
    proposal encrypted, and a reviewer's decision is a *new* row (``approved``/``rejected``)
    pointing at it, so no row is ever edited.
    """

    Status = ProfileChangeStatus

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="profile_changes")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, related_name="+")
    decides = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        related_name="decision",
        help_text="The pending request this row approves or rejects.",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    fields = models.JSONField(_("fields"), default=list)
    old = models.JSONField(_("before"), default=dict, help_text="Masked where sensitive.")
    new = models.JSONField(_("after"), default=dict, help_text="Masked where sensitive.")
    proposal = EncryptedTextField(blank=True, help_text="JSON of the full new values (pending).")
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("profile change")
        verbose_name_plural = _("profile changes")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=_in("status", ProfileChangeStatus), name="profilechange_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["approved", "rejected"], decides__isnull=False)
                | Q(status__in=["applied", "pending"], decides__isnull=True),
                name="profilechange_decision_points_at_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status}: {', '.join(self.fields)}"


class VisitKind(models.TextChoices):
    VISIT = "visit", _("On-site visit")
    PHONE = "phone", _("Phone call")
    TRAINING = "training", _("Training")


class Visit(models.Model):
    """A contact of branch staff with a merchant (信息建档)."""

    Kind = VisitKind

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="visits")
    branch = models.ForeignKey(
        "branches.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    visited_on = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    outcome = models.TextField(_("outcome"))
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=_in("kind", VisitKind), name="visit_kind_valid"),
            models.CheckConstraint(
                condition=Q(follow_up_on__isnull=True) | Q(follow_up_on__gte=F("visited_on")),
                name="visit_follow_up_not_before_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.visited_on}"

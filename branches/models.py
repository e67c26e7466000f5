from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import geo


class Located(models.Model):
    """A WGS-84 point with its H3 leaf cell (see ``branches.geo`` for how queries use it)."""

    lat = models.FloatField(
        _("latitude"), validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    lng = models.FloatField(
        _("longitude"), validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    h3_cell = models.BigIntegerField(_("H3 cell"), db_index=True, editable=False)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180),
                name="%(app_label)s_%(class)s_lat_lng_range",
            ),
        ]

    def set_location(self, *, lat: float, lng: float) -> None:
        self.lat, self.lng = lat, lng
        self.h3_cell = geo.leaf_cell(lat, lng)


class Branch(Located):
    """A bank branch; its grid is everything within 3 km of it."""

    code = models.CharField(_("branch code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=64)
    address = models.CharField(_("address"), max_length=200)
    is_active = models.BooleanField(_("open"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta(Located.Meta):
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class GriddedPlace(Located):
    """Something that belongs to the grid of one branch, or to the head-office pool (null).

    Merchant stores inherit this; re-gridding moves every concrete subclass.
    """

    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="%(app_label)s_%(class)s_set",
    )

    class Meta(Located.Meta):
        abstract = True


class BranchChange(models.Model):
    """Audit row for every opening, move, edit and closing of a branch (immutable)."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("opened")
        MOVED = "moved", _("moved")
        EDITED = "edited", _("edited")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("reopened")

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(_("change"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200)
    old = models.JSONField(_("before"), default=dict)
    new = models.JSONField(_("after"), default=dict)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("branch change")
        verbose_name_plural = _("branch changes")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.branch_id} @ {self.created_at:%Y-%m-%d %H:%M}"


class GridMove(models.Model):
    """One place moved from one grid to another (null branch = head-office pool). Immutable."""

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    from_branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, related_name="moves_out"
    )
    to_branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, related_name="moves_in"
    )
    change = models.ForeignKey(
        BranchChange, on_delete=models.PROTECT, null=True, related_name="moves"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("grid move")
        verbose_name_plural = _("grid moves")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.subject_type_id}:{self.subject_id} {self.from_branch_id} -> {self.to_branch_id}"

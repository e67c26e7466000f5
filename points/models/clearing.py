"""Monthly clearing between merchants and the bank for points spent where others funded them."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .ledger import Immutable


class ClearingRun(Immutable):
    """One clearing of a calendar month (points time zone). One per month; immutable."""

    period = models.DateField(_("month"), unique=True)  # the first day of the month
    created_at = models.DateTimeField(_("run"), auto_now_add=True)

    class Meta:
        verbose_name = _("points clearing run")
        verbose_name_plural = _("points clearing runs")
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m}"


class ClearingLine(Immutable):
    """Net points spent at ``spent_at_merchant_id`` that ``funder_merchant_id`` funded in the
    month (None: the bank, or a spend not at a merchant), and their value in fen."""

    run = models.ForeignKey(ClearingRun, on_delete=models.PROTECT, related_name="lines")
    spent_at_merchant_id = models.BigIntegerField(null=True)
    funder_merchant_id = models.BigIntegerField(null=True)
    points = models.BigIntegerField(_("points"))
    amount_fen = models.BigIntegerField(_("value (fen)"))

    class Meta:
        ordering = [  # the bank (null) after the merchants, on every database
            models.F("spent_at_merchant_id").asc(nulls_last=True),
            models.F("funder_merchant_id").asc(nulls_last=True),
        ]

    def __str__(self) -> str:
        return f"{self.funder_merchant_id} -> {self.spent_at_merchant_id}: {self.amount_fen}"


class ClearingStatement(Immutable):
    """Per merchant for one run: what it is owed for points spent at it that others funded,
    what it owes for points it funded that were spent elsewhere, and the net (+ owed to it)."""

    run = models.ForeignKey(ClearingRun, on_delete=models.PROTECT, related_name="statements")
    merchant_id = models.BigIntegerField(_("merchant"))
    spent_here_fen = models.BigIntegerField(_("points spent here, funded by others (fen)"))
    funded_elsewhere_fen = models.BigIntegerField(_("points funded here, spent elsewhere (fen)"))
    net_fen = models.BigIntegerField(_("net owed to the merchant (fen)"))

    class Meta:
        ordering = ["merchant_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "merchant_id"], name="clearingstatement_once"),
            models.CheckConstraint(
                condition=models.Q(net_fen=models.F("spent_here_fen") - models.F("funded_elsewhere_fen")),
                name="clearingstatement_net",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run} merchant {self.merchant_id}: {self.net_fen}"

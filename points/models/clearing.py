"""Monthly points clearing: what each merchant owes the bank for the points it funded that
customers spent (the funder charge). The merchant where points were spent is paid for them in
the daily settlement (``payments.services.settlement``), never here."""

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
    """Per merchant for one run, from its lines (all values net of refunds of spends):

    - ``funded_fen``: the points this merchant funded that were spent in the month, anywhere
      (at other merchants, at its own shops, on coupons from the bank): the funder charge;
    - ``spent_here_paid_fen``: the points spent at this merchant, whoever funded them: for
      information only, the daily settlement has already paid it their value;
    - ``net_fen``: what the merchant owes the bank; negative when refunds of spends made in
      earlier months give it back more than it funded this month. The funder charge is its
      only item, so it equals ``funded_fen``.
    """

    run = models.ForeignKey(ClearingRun, on_delete=models.PROTECT, related_name="statements")
    merchant_id = models.BigIntegerField(_("merchant"))
    funded_fen = models.BigIntegerField(_("points it funded, spent anywhere (fen)"))
    spent_here_paid_fen = models.BigIntegerField(
        _("points spent here, already paid in daily settlement (fen)")
    )
    net_fen = models.BigIntegerField(_("owed to the bank (fen)"))

    class Meta:
        ordering = ["merchant_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "merchant_id"], name="clearingstatement_once"),
            models.CheckConstraint(
                condition=models.Q(net_fen=models.F("funded_fen")),
                name="clearingstatement_net_is_funder_charge",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run} merchant {self.merchant_id}: owes {self.net_fen}"

"""Invoice arithmetic of :class:`~.fake.FakeStripe`: discounts, taxes and totals.

Every amount is an integer in the currency's minor unit (cents, yen, fils): nothing is
converted. Line discounts apply first (the ``subtotal`` is net of them), then invoice
discounts spread over the discountable lines (``amount_off`` in proportion to what is left of
each, the last line taking the rounding). Taxes are computed on each line after its
discounts; exclusive taxes add to the total, inclusive ones are part of it. A customer balance
is applied when an invoice is finalized: ``amount_due = max(0, total + starting_balance)``.
"""

from __future__ import annotations

import math
from typing import Any

from stripe_integrations.testing import fake_discounts
from stripe_integrations.testing.fake_store import JsonDict, Store


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _coupon(store: Store, discount_id: str, invoice_id: str | None) -> JsonDict | None:
    discount = fake_discounts.usable(store, discount_id, invoice_id)
    return None if discount is None else fake_discounts.coupon_of(store, discount)


class _Ledger:
    """What is left of each line, and how much each discount took."""

    def __init__(self, lines: list[JsonDict]) -> None:
        self.left = {line["id"]: line["amount"] for line in lines}
        self.by_discount: dict[str, int] = {}
        for line in lines:
            line["discount_amounts"] = []
            line["pretax_credit_amounts"] = []

    def take(self, line: JsonDict, discount_id: str, amount: int) -> None:
        amount = max(0, min(amount, self.left[line["id"]]))
        line["discount_amounts"].append({"amount": amount, "discount": discount_id})
        line["pretax_credit_amounts"].append(
            {
                "amount": amount,
                "credit_balance_transaction": None,
                "discount": discount_id,
                "type": "discount",
            }
        )
        self.left[line["id"]] -= amount
        self.by_discount[discount_id] = self.by_discount.get(discount_id, 0) + amount


def _apply(
    ledger: _Ledger, coupon: JsonDict, discount_id: str, lines: list[JsonDict], currency: str
) -> None:
    if coupon["percent_off"] is not None:
        for line in lines:
            ledger.take(
                line, discount_id, _round(ledger.left[line["id"]] * coupon["percent_off"] / 100)
            )
        return
    if coupon["currency"] != currency:
        return
    base = sum(ledger.left[line["id"]] for line in lines)
    total = min(coupon["amount_off"], base)
    given = 0
    for index, line in enumerate(lines):
        share = (
            total - given if index == len(lines) - 1 else total * ledger.left[line["id"]] // base
        )
        ledger.take(line, discount_id, share)
        given += share


def _tax(rate: JsonDict, taxable: int) -> JsonDict:
    percent = float(rate["percentage"])
    if rate["inclusive"]:
        amount = _round(taxable - taxable / (1 + percent / 100))
        base = taxable - amount
    else:
        amount, base = _round(taxable * percent / 100), taxable
    return {
        "amount": amount,
        "tax_behavior": "inclusive" if rate["inclusive"] else "exclusive",
        "tax_rate_details": {"tax_rate": rate["id"]},
        "taxability_reason": "standard_rated",
        "taxable_amount": base,
        "type": "tax_rate_details",
    }


def compute(store: Store, invoice: JsonDict) -> JsonDict:
    """Fill the line discounts and taxes and the invoice totals from the lines (in place)."""
    lines: list[JsonDict] = invoice["lines"]["data"]
    currency = invoice["currency"]
    ledger = _Ledger(lines)
    for line in lines:
        for discount_id in line["discounts"]:
            coupon = _coupon(store, discount_id, invoice["id"])
            if coupon is not None:
                _apply(ledger, coupon, discount_id, [line], currency)
    item_discounts = sum(ledger.by_discount.values())
    for discount_id in invoice["discounts"]:
        coupon = _coupon(store, discount_id, invoice["id"])
        eligible = [line for line in lines if line["discountable"] and ledger.left[line["id"]] > 0]
        if coupon is not None and eligible:
            _apply(ledger, coupon, discount_id, eligible, currency)
    taxes: dict[str, JsonDict] = {}
    for line in lines:
        rates = store.hidden.get(line["id"], {}).get("tax_rates") or invoice["default_tax_rates"]
        line["taxes"] = [_tax(rate, ledger.left[line["id"]]) for rate in rates]
        for tax in line["taxes"]:
            key = tax["tax_rate_details"]["tax_rate"]
            if key in taxes:
                taxes[key]["amount"] += tax["amount"]
                taxes[key]["taxable_amount"] += tax["taxable_amount"]
            else:
                taxes[key] = dict(tax)
    exclusive = sum(t["amount"] for t in taxes.values() if t["tax_behavior"] == "exclusive")
    inclusive = sum(t["amount"] for t in taxes.values() if t["tax_behavior"] == "inclusive")
    # As in Stripe, the subtotal already takes off the lines' own discounts.
    subtotal = sum(line["amount"] for line in lines) - item_discounts
    total = sum(line["amount"] for line in lines) - sum(ledger.by_discount.values()) + exclusive
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal - inclusive,
        total=total,
        total_excluding_tax=total - exclusive - inclusive,
        total_discount_amounts=[
            {"amount": amount, "discount": discount_id}
            for discount_id, amount in ledger.by_discount.items()
        ],
        total_pretax_credit_amounts=[
            {
                "amount": amount,
                "credit_balance_transaction": None,
                "discount": discount_id,
                "type": "discount",
            }
            for discount_id, amount in ledger.by_discount.items()
        ],
        total_taxes=list(taxes.values()),
    )
    settle(invoice)
    return invoice


def settle(invoice: JsonDict) -> None:
    """``amount_due``/``amount_remaining`` (and ``ending_balance`` once finalized)."""
    balance = invoice["starting_balance"]
    invoice["amount_due"] = max(0, invoice["total"] + balance)
    if invoice["status"] != "draft":
        invoice["ending_balance"] = min(0, invoice["total"] + balance)
    remaining = invoice["amount_due"] - invoice["amount_paid"]
    invoice["amount_remaining"] = 0 if invoice["status"] == "paid" else max(0, remaining)


def discount_ids(invoice: JsonDict) -> list[str]:
    """Every discount an invoice uses, its own and its lines'."""
    found: list[str] = list(invoice["discounts"])
    for line in invoice["lines"]["data"]:
        found += [d for d in line["discounts"] if d not in found]
    return found


def money(amount: Any, currency: str) -> str:
    """A short human amount for line descriptions (``10.00 usd``, ``500 jpy``)."""
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency}"
    digits = 3 if currency in THREE_DECIMAL else 2
    return f"{int(amount) / 10**digits:.{digits}f} {currency}"


#: Currencies whose minor unit is the unit itself / a thousandth (amounts are never converted).
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

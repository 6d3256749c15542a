"""The legal clock of a data subject request (CCPA regulations §7021, GDPR Art. 12(3)).

- Confirm receipt within 10 business days.
- Answer within 45 calendar days of receipt.
- Extend once, by 45 more days, telling the requester why.
"""
from datetime import timedelta

ANSWER_WITHIN = timedelta(days=45)
EXTENSION = timedelta(days=45)
CONFIRM_WITHIN_BUSINESS_DAYS = 10
NEAR_DUE = timedelta(days=7)


def answer_due(received_at, extended: bool):
    return received_at + ANSWER_WITHIN + (EXTENSION if extended else timedelta(0))


def confirmation_due(received_at):
    """``received_at`` plus 10 business days (Monday to Friday)."""
    day, left = received_at, CONFIRM_WITHIN_BUSINESS_DAYS
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def urgency(due_at, now, closed: bool) -> str:
    """``overdue``, ``near_due`` (within a week) or ``on_time``; closed requests are ``closed``."""
    if closed:
        return "closed"
    if now > due_at:
        return "overdue"
    if due_at - now <= NEAR_DUE:
        return "near_due"
    return "on_time"

"""The booking lifecycle as a transition table.

Nothing sets a booking's status directly: services call :func:`transition`, and
permission checks (``can``) read the same table, so the buttons a page shows and
the actions the service accepts cannot disagree.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import IllegalTransition, RuleFailure


class Status(StrEnum):
    PENDING = "pending"  # awaits staff approval
    PROVISIONAL = "provisional"  # held until claimed or paid by the claim deadline
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RELEASED = "released"  # unclaimed by the deadline
    NO_SHOW = "no_show"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CONFIRM = "confirm"  # claim / payment recorded, or auto-confirm policy
    CANCEL = "cancel"
    CHECK_IN = "check_in"
    NO_SHOW = "no_show"
    RELEASE = "release"
    COMPLETE = "complete"


S, A = Status, Action

ACTIVE: frozenset[Status] = frozenset({S.PENDING, S.PROVISIONAL, S.CONFIRMED, S.CHECKED_IN})
FINAL: frozenset[Status] = frozenset(set(Status) - ACTIVE)

TRANSITIONS: dict[tuple[Status, Action], frozenset[Status]] = {
    (S.PENDING, A.APPROVE): frozenset({S.PROVISIONAL, S.CONFIRMED}),
    (S.PENDING, A.REJECT): frozenset({S.REJECTED}),
    (S.PENDING, A.CANCEL): frozenset({S.CANCELLED}),
    (S.PROVISIONAL, A.CONFIRM): frozenset({S.CONFIRMED}),
    (S.PROVISIONAL, A.CANCEL): frozenset({S.CANCELLED}),
    (S.PROVISIONAL, A.RELEASE): frozenset({S.RELEASED}),
    (S.CONFIRMED, A.CHECK_IN): frozenset({S.CHECKED_IN}),
    (S.CONFIRMED, A.CANCEL): frozenset({S.CANCELLED}),
    (S.CONFIRMED, A.NO_SHOW): frozenset({S.NO_SHOW}),
    (S.CHECKED_IN, A.COMPLETE): frozenset({S.COMPLETED}),
}

STATUS_LABELS: dict[Status, tuple[str, str]] = {
    S.PENDING: ("承認待ち", "Pending approval"),
    S.PROVISIONAL: ("仮予約", "Provisional"),
    S.CONFIRMED: ("予約確定", "Confirmed"),
    S.CHECKED_IN: ("利用中", "Checked in"),
    S.COMPLETED: ("利用済み", "Completed"),
    S.CANCELLED: ("取消", "Cancelled"),
    S.REJECTED: ("不承認", "Rejected"),
    S.RELEASED: ("期限切れ解放", "Released (unclaimed)"),
    S.NO_SHOW: ("無断不使用", "No-show"),
}


def status_label(status: Status | str, language: str) -> str:
    ja, en = STATUS_LABELS[Status(status)]
    return en if language == "en" else ja


def is_active(status: Status | str) -> bool:
    return Status(status) in ACTIVE


def can(status: Status | str, action: Action | str) -> bool:
    return (Status(status), Action(action)) in TRANSITIONS


def allowed_actions(status: Status | str) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == Status(status)]


def transition(status: Status | str, action: Action | str, target: Status | None = None) -> Status:
    """The status after ``action``; ``target`` chooses where one action has two outcomes."""
    current, act = Status(status), Action(action)
    targets = TRANSITIONS.get((current, act))
    if not targets:
        raise IllegalTransition(
            RuleFailure(
                "illegal_transition",
                f"この予約は「{status_label(current, 'ja')}」のため、この操作はできません。",
                f"This booking is {status_label(current, 'en').lower()}; that action is not possible.",
                details={"status": current.value, "action": act.value},
            )
        )
    if target is None:
        if len(targets) != 1:
            raise ValueError(f"{act} from {current} needs an explicit target")
        return next(iter(targets))
    if target not in targets:
        raise IllegalTransition(
            RuleFailure(
                "illegal_transition",
                "この操作の結果として指定された状態は許可されていません。",
                "That action cannot lead to the requested status.",
                details={"status": current.value, "action": act.value, "target": target.value},
            )
        )
    return target


def initial_status(requires_approval: bool, needs_claim: bool) -> Status:
    """Rooms without approval start provisional; free rooms that need no claim start confirmed."""
    if requires_approval:
        return S.PENDING
    return S.PROVISIONAL if needs_claim else S.CONFIRMED


def status_after_approval(needs_claim: bool) -> Status:
    return S.PROVISIONAL if needs_claim else S.CONFIRMED

"""The transition table, exhaustively."""

from __future__ import annotations

import pytest

from reservations.domain.errors import IllegalTransition
from reservations.domain.lifecycle import (
    ACTIVE,
    TRANSITIONS,
    Action,
    Status,
    allowed_actions,
    can,
    initial_status,
    is_active,
    status_after_approval,
    transition,
)

S, A = Status, Action

LEGAL = [
    (S.PENDING, A.APPROVE, S.PROVISIONAL, S.PROVISIONAL),
    (S.PENDING, A.APPROVE, S.CONFIRMED, S.CONFIRMED),
    (S.PENDING, A.REJECT, None, S.REJECTED),
    (S.PENDING, A.CANCEL, None, S.CANCELLED),
    (S.PROVISIONAL, A.CONFIRM, None, S.CONFIRMED),
    (S.PROVISIONAL, A.CANCEL, None, S.CANCELLED),
    (S.PROVISIONAL, A.RELEASE, None, S.RELEASED),
    (S.CONFIRMED, A.CHECK_IN, None, S.CHECKED_IN),
    (S.CONFIRMED, A.CANCEL, None, S.CANCELLED),
    (S.CONFIRMED, A.NO_SHOW, None, S.NO_SHOW),
    (S.CHECKED_IN, A.COMPLETE, None, S.COMPLETED),
]


@pytest.mark.parametrize(("status", "action", "target", "expected"), LEGAL)
def test_legal_transitions(status: Status, action: Action, target: Status | None, expected: Status) -> None:
    assert transition(status, action, target) == expected
    assert can(status, action)


ILLEGAL = [(s, a) for s in Status for a in Action if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_other_pair_is_illegal(status: Status, action: Action) -> None:
    assert not can(status, action)
    with pytest.raises(IllegalTransition) as err:
        transition(status, action)
    assert err.value.codes == ["illegal_transition"]


def test_approve_needs_a_target_and_refuses_a_wrong_one() -> None:
    with pytest.raises(ValueError):
        transition(S.PENDING, A.APPROVE)
    with pytest.raises(IllegalTransition):
        transition(S.PENDING, A.APPROVE, S.COMPLETED)


def test_final_statuses_allow_nothing_and_active_set_is_the_documented_one() -> None:
    assert {S.PENDING, S.PROVISIONAL, S.CONFIRMED, S.CHECKED_IN} == ACTIVE
    for s in Status:
        assert is_active(s) == (s in ACTIVE)
        if s not in ACTIVE:
            assert allowed_actions(s) == []


@pytest.mark.parametrize(("approval", "claim", "expected"), [
    (True, True, S.PENDING), (True, False, S.PENDING), (False, True, S.PROVISIONAL), (False, False, S.CONFIRMED),
])
def test_initial_status(approval: bool, claim: bool, expected: Status) -> None:
    assert initial_status(approval, claim) == expected


def test_status_after_approval() -> None:
    assert status_after_approval(True) == S.PROVISIONAL
    assert status_after_approval(False) == S.CONFIRMED

"""The pure rules the store applies inside its transactions (core/acceptance,
core/finals, core/fragments): decided here without a database."""

from __future__ import annotations

from hongyan.core import finals, fragments
from hongyan.core.acceptance import AccountState, History, Plan, decide
from hongyan.core.limits import Bucket, parse_windows
from hongyan.core.models import (
    Account,
    InboundFragment,
    MessageOutcome,
    PartOutcome,
    Recipient,
    Submission,
)
from hongyan.core.states import MessageState, PartState, Status
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat


def account(rate: int | None = None, per_number: str = "off") -> Account:
    return Account(
        id=7,
        uid="acme",
        api_key_digest="",
        ext_code="0001",
        frozen=False,
        api_send=True,
        refund_on_failure=False,
        rate_limit=rate,
        per_number=parse_windows(per_number),
        networks=(),
    )


def submission(
    *numbers: str | None, parts: int = 1, at: int = 1_000_000, **kw: object
) -> Submission:
    return Submission(
        account=account(**kw),  # type: ignore[arg-type]
        content="x",
        parts=parts,
        mid="",
        source="0001",
        recipients=tuple(Recipient(n or "bad", n, f"id{i}") for i, n in enumerate(numbers)),
        created_at=at,
        due_at=at,
    )


def state(balance: int = 100) -> AccountState:
    return AccountState(balance=balance, sent_total=0, bucket=Bucket(1.0, 0))


def test_acceptance_charges_valid_numbers_and_refuses_the_rest_one_by_one() -> None:
    s, history = state(10), {}
    plan = decide(submission("13900000001", None, "13900000002", parts=2), s, history)
    assert isinstance(plan, Plan)
    assert (plan.charged, plan.balance_after, s.balance, s.sent_total) == (4, 6, 6, 4)
    assert plan.refused == [(1, Status.BAD_NUMBER)]


def test_acceptance_refuses_a_request_the_balance_cannot_pay_and_takes_nothing() -> None:
    s = state(1)
    refused = decide(submission("13900000001", "13900000002"), s, {})
    assert isinstance(refused, Rejected) and refused.stat is Stat.INSUFFICIENT_BALANCE
    assert (s.balance, s.sent_total) == (1, 0)


def test_acceptance_no_valid_number_is_112_and_all_limited_is_110() -> None:
    assert decide(submission(None), state(), {}).stat is Stat.BAD_NUMBER  # type: ignore[union-attr]
    history: History = {(7, "13900000001"): [999_000]}
    limited = decide(submission("13900000001", per_number="1/30s"), state(), history)
    assert isinstance(limited, Rejected) and limited.stat is Stat.PER_NUMBER_LIMITED


def test_acceptance_sees_what_the_request_before_it_in_the_transaction_took() -> None:
    s, history = state(), {}
    first = decide(submission("13900000001", per_number="1/30s"), s, history)
    second = decide(submission("13900000001", per_number="1/30s", at=1_000_001), s, history)
    assert isinstance(first, Plan)
    assert isinstance(second, Rejected) and second.stat is Stat.PER_NUMBER_LIMITED
    within_one = decide(submission("13900000003", "13900000003", per_number="1/30s"), s, history)
    assert isinstance(within_one, Plan) and within_one.refused == [(1, Status.PER_NUMBER_LIMITED)]


def test_acceptance_takes_a_token_per_request_with_a_rate_limit() -> None:
    s = state()
    assert isinstance(decide(submission("13900000001", rate=1), s, {}), Plan)
    again = decide(submission("13900000002", rate=1), s, {})
    assert isinstance(again, Rejected) and again.stat is Stat.RATE_LIMITED


def outcome(*parts: PartOutcome, now: int = 10, expires_at: int = 100) -> MessageOutcome:
    return MessageOutcome(1, "sim", now, list(parts), retry_at=50, expires_at=expires_at, attempt=1)


def test_after_submit_a_refusal_ends_a_hold_retries_until_expiry() -> None:
    accepted, held = PartOutcome(1, "u1"), PartOutcome(2, None, "THROTTLED", True)
    refused = PartOutcome(2, None, "ESME_RINVDSTADR")
    assert finals.after_submit(outcome(accepted)) == finals.AwaitReceipts()
    assert finals.after_submit(outcome(accepted, held)) == finals.Retry(50)
    assert finals.after_submit(outcome(accepted, held, now=100)) == finals.Ends(Status.EXPIRED)
    assert finals.after_submit(outcome(accepted, refused)) == finals.Ends("ESME_RINVDSTADR")
    assert finals.after_submit(outcome(PartOutcome(1, None))) == finals.Ends(Status.REJECTED)


def test_a_message_is_final_when_every_part_is_with_the_first_failure() -> None:
    sent, ok = (PartState.SENT, ""), (PartState.DELIVERED, "100")
    failed = (PartState.FAILED, "UNDELIV")
    assert finals.message_status([ok, sent], 2) is None
    assert finals.message_status([ok], 2) is None
    assert finals.message_status([ok, ok], 2) == Status.DELIVERED
    assert finals.message_status([ok, failed, (PartState.FAILED, "EXPIRED")], 3) == "UNDELIV"
    assert finals.part_state("100") is PartState.DELIVERED
    assert finals.part_state("MK:0001") is PartState.FAILED
    assert finals.final_state("100") is MessageState.DELIVERED
    assert finals.final_state("REJECTD") is MessageState.FAILED
    assert finals.may_become_final("sent") and not finals.may_become_final("failed")


def test_refunds_go_back_only_on_failure_and_only_when_the_account_says_so() -> None:
    assert finals.refund("UNDELIV", 3, refund_on_failure=True) == 3
    assert finals.refund("UNDELIV", 3, refund_on_failure=False) == 0
    assert finals.refund("100", 3, refund_on_failure=True) == 0


def part(seq: int, text: str = "x", total: int = 2, at: int = 1000) -> InboundFragment:
    return InboundFragment("13900000001", "106900001", 5, total, seq, text, at)


def kept(seq: int, text: str = "x", total: int = 2, at: int = 1000, done: int | None = None):  # type: ignore[no-untyped-def]
    return fragments.Kept(seq, total, text, at, done)


def test_a_part_offered_again_changes_nothing() -> None:
    assert fragments.on_part([kept(1)], part(1), wait_ms=300) is fragments.Step.IGNORE
    recorded = [kept(1, done=1100), kept(2, done=1100)]
    assert fragments.on_part(recorded, part(1, at=1200), wait_ms=300) is fragments.Step.IGNORE


def test_parts_that_cannot_belong_with_the_new_one_are_recorded_first() -> None:
    step = fragments.on_part
    assert step([], part(1), wait_ms=300) is fragments.Step.KEEP
    assert step([kept(1)], part(2), wait_ms=300) is fragments.Step.KEEP
    assert step([kept(1, "y")], part(1), 300) is fragments.Step.RECORD_KEPT_FIRST  # other text
    assert step([kept(1, total=3)], part(2), 300) is fragments.Step.RECORD_KEPT_FIRST
    assert step([kept(1, at=0)], part(2, at=1000), 300) is fragments.Step.RECORD_KEPT_FIRST
    recorded_long_ago = [kept(1, done=100), kept(2, done=100)]
    assert step(recorded_long_ago, part(1), 300) is fragments.Step.FORGET_RECORDED


def test_a_reply_is_joined_in_part_order() -> None:
    assert fragments.joined([(2, "世界"), (1, "你好")]) == "你好世界"
    assert fragments.is_whole(2, 2) and not fragments.is_whole(1, 2)

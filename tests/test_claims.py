"""The bakery line behind exactly-once post-mortems: who goes first, who waits, who is done."""

from __future__ import annotations

from mlflow_postmortem.claims import CHOOSING, CLAIM_TAG, Contender, ahead_of, contender, done_by, next_ticket


def _c(run_id: str, ticket: int | None, status: str = "RUNNING") -> Contender:
    return Contender(run_id, status, ticket)


def test_a_ticket_is_one_above_the_highest_live_one() -> None:
    line = [_c("a", 3), _c("b", None), _c("c", 7, "FAILED"), _c("d", 5)]
    assert next_ticket(line) == 6
    assert next_ticket([]) == 1


def test_a_contender_waits_for_anyone_still_choosing_and_for_smaller_tickets_only() -> None:
    me = _c("m", 4)
    line = [me, _c("a", 2), _c("b", None), _c("c", 9), _c("d", 1, "FAILED"), _c("e", 3, "KILLED")]
    assert {c.run_id for c in ahead_of(me, line)} == {"a", "b"}


def test_equal_tickets_are_ordered_by_run_id_so_exactly_one_goes_first() -> None:
    x, y = _c("x1", 5), _c("y2", 5)
    assert [c.run_id for c in ahead_of(x, [x, y])] == []
    assert [c.run_id for c in ahead_of(y, [x, y])] == ["x1"]


def test_a_finished_contender_means_the_work_is_done_and_failed_ones_do_not() -> None:
    assert done_by([_c("a", 1, "FAILED"), _c("b", 2)]) is None
    assert done_by([_c("a", 1, "FAILED"), _c("b", 2, "FINISHED")]) == "b"


def test_a_claim_tag_reads_as_a_ticket_or_as_still_choosing() -> None:
    assert contender("r", "RUNNING", {CLAIM_TAG: "12"}).ticket == 12
    assert contender("r", "RUNNING", {CLAIM_TAG: CHOOSING}).ticket is None
    assert contender("r", "RUNNING", {}).ticket is None

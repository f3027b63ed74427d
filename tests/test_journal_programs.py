"""Programs in one journal, on SQLite and PostgreSQL: the same order id in two programs is two
orders, the same member two accounts; whatever one program's journal reads, claims, moves or
counts is its own; each has its own leases, tokens and audit; and a program's journal shares
the engines of the journal it came from. (tests/test_journal_scope.py watches the statements.)"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from gateway.journal import Journal, OrderExists, Overdraft, Totals
from gateway.journal.operators import Audit, OperatorRefused, Operators, scope_of
from gateway.journal.records import REQUEST_ID, Operation, utcnow
from gateway.journal.scope import ProgramRefused, change
from gateway.journal.tables import operations
from gateway.metrics import JournalCollector
from gateway.sealed import Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore

A, B = "acme", "globex"


@pytest.fixture
def acme(journal: Journal) -> Journal:
    return journal.for_program(A)


@pytest.fixture
def globex(journal: Journal) -> Journal:
    return journal.for_program(B)


def test_a_program_s_journal_shares_the_engines_and_costs_no_connection(journal):
    assert journal.program == "default"
    programs = [journal.for_program(f"p{i}") for i in range(50)]
    for i, bound in enumerate(programs):
        bound.debit("M", "m", "O-1", 1, 10, {})  # each program's first debit: its own order
        assert bound.program == f"p{i}"
        assert bound.writer is journal.writer and bound.reader is journal.reader
        assert bound._hot() is journal._hot() and bound._db is journal._db
    assert journal.for_program("default") is journal
    assert journal.count() == 0 and all(bound.count() == 1 for bound in programs)
    for name in ("", "a,b", "*", "x" * 65, " acme", "ac me"):
        with pytest.raises(ProgramRefused):
            journal.for_program(name)
    with pytest.raises(ProgramRefused):
        Journal(journal.url, program="a,b")


def test_the_same_order_id_in_two_programs_is_two_orders(journal, acme, globex):
    first = acme.debit("M", "m", "O-1", 10, 100, {"order_id": "O-1"})
    second = globex.debit("M", "m", "O-1", 20, 100, {"order_id": "O-1"})
    assert (first.program, second.program) == (A, B) and first.id != second.id
    with pytest.raises(OrderExists) as again:
        acme.debit("M", "m", "O-1", 99, 100, {})
    assert again.value.earlier.id == first.id and again.value.earlier.amount == 10
    assert acme.order("debit", "O-1").amount == 10
    assert globex.order("debit", "O-1").amount == 20
    assert journal.order("debit", "O-1") is None
    # The ledger's way (recorded received first) and a credit: per program too.
    received_a, made_a = acme.open_order("debit", "L", "l", "O-2", 5, "debit:O-2")
    received_b, made_b = globex.open_order("debit", "L", "l", "O-2", 6, "debit:O-2")
    assert made_a and made_b and received_a.id != received_b.id
    assert acme.open_order("debit", "L", "l", "O-2", 5, "debit:O-2") == (received_a, False)
    for bound in (acme, globex):
        with bound.locked_account("M") as acct:
            acct.record("credit", "m", "C-1", 3, {})
    assert acme.order("credit", "C-1").program == A and globex.order("credit", "C-1").program == B


def test_the_same_member_has_an_account_in_each_program(journal, acme, globex):
    acme.debit("M", "m", "O-1", 10, 100, {})
    globex.debit("M", "m", "O-9", 70, 100, {})
    with acme.locked_account("M") as acct:
        acct.record("refund", "m", "O-1", 4, {})
    assert acme.totals("M") == Totals(debited=10, refunded=4)
    assert globex.totals("M") == Totals(debited=70)
    assert journal.totals("M") == Totals()
    # Each program's balance is its own: globex's 70 does not stop acme spending its 100.
    acme.debit("M", "m", "O-2", 94, 100, {})
    with pytest.raises(Overdraft) as exc:
        globex.debit("M", "m", "O-3", 31, 100, {})
    assert exc.value.available == 30
    assert [o.order_id for o in acme.of_member("M")] == ["O-2", "O-1", "O-1"]
    assert [o.order_id for o in globex.of_member("M")] == ["O-9"]
    assert [o.amount for o in acme.refunds_of("O-1")] == [4] and globex.refunds_of("O-1") == []


def fill(bound: Journal, amount: int) -> dict[str, Operation]:
    """In `bound`'s program, under the same ids as any other's: an applied debit and its refund,
    an unfinished ledger debit, an orphan (answered a failure an hour ago), a delivery's request
    id; the orphan's owed refund."""
    made = {"debit": bound.debit("M", "m", "O-1", amount, 10**6, {})}
    with bound.locked_account("M") as acct:
        made["refund"] = acct.record("refund", "m", "O-1", 1, {})
    made["unsent"], _ = bound.open_order("debit", "M", "m", "O-2", amount, "debit:O-2")
    orphan, _ = bound.open_order("debit", "M", "m", "O-3", amount, "debit:O-3")
    claimed = bound.claim(orphan.id, ("received",), "sent")
    assert claimed is not None and bound.finish(claimed, "applied")
    token = REQUEST_ID.set("req-shared")
    try:
        assert bound.answered(claimed, "outcome_unknown")
    finally:
        REQUEST_ID.reset(token)
    with bound._write() as conn:
        an_hour_ago = change(operations, bound.program).where(operations.c.id == orphan.id)
        conn.execute(an_hour_ago.values(answered_at=utcnow() - timedelta(hours=1)))
    made["orphan"] = bound.operation(orphan.id)
    return made


def test_nothing_one_program_reads_is_another_s(journal, acme, globex):
    mine, theirs = fill(acme, 10), fill(globex, 20)
    cutoff = utcnow() - timedelta(minutes=1)
    for bound, own, other in ((acme, mine, theirs), (globex, theirs, mine)):
        ids = {op.id for op in own.values()}

        def only_own(found: list[Operation], *, bound: Journal = bound, ids: set[int] = ids):
            assert found and {o.program for o in found} == {bound.program}, found
            assert {o.id for o in found} <= ids, found

        only_own(list(bound.operations()))
        only_own(bound.unfinished())
        only_own(bound.due())
        only_own(bound.orphan_candidates(cutoff))
        only_own(bound.orphans())
        for text in ("O-1", "M", "m", "debit:O-2", "req-shared"):
            only_own(bound.search(text))
        only_own(bound.of_member("M"))
        only_own(bound.refunds_of("O-1"))
        assert bound.count() == 4
        assert len(bound.deliveries_of(own["orphan"].id)) == 1
        assert bound.deliveries_of(other["orphan"].id) == []
        for op in other.values():
            assert bound.operation(op.id) is None
        owed = bound.settle_orphan(own["orphan"], cutoff, "refund", lambda i: f"refund:{i}:O-3")
        assert owed is not None and owed.program == bound.program
        assert bound.settle_orphan(other["orphan"], cutoff, "refund", lambda i: "x") is None
    assert journal.count() == 0 and list(journal.operations()) == []
    assert journal.search("O-1") == [] and journal.unfinished() == [] and journal.orphans() == []


def test_another_program_s_operation_is_neither_claimed_nor_moved(acme, globex):
    theirs, _ = globex.open_order("debit", "M", "m", "O-1", 10, "debit:O-1")
    assert acme.operation(theirs.id) is None
    assert acme.claim(theirs.id, ("received",), "sent") is None
    assert globex.operation(theirs.id).attempts == 0  # untouched
    claimed = globex.claim(theirs.id, ("received",), "sent")
    assert claimed is not None
    assert not acme.finish(claimed, "applied")
    assert not acme.mark(claimed, "rejected", "not ours")
    assert not acme.answered(claimed, "ok")
    after = globex.operation(theirs.id)
    assert after.state == "sent" and after.answered == "pending" and after.detail is None
    assert globex.deliveries_of(theirs.id) == [] and acme.totals("M") == Totals()
    assert globex.finish(claimed, "applied") and globex.totals("M") == Totals(debited=10)


def test_each_program_has_its_own_leases(acme, globex):
    assert acme.hold_lease("ledger-worker", "host-a", 60)
    assert globex.hold_lease("ledger-worker", "host-b", 60)  # not blocked by acme's worker
    assert not acme.hold_lease("ledger-worker", "host-b", 60)
    acme.release_lease("ledger-worker", "host-a")
    assert acme.hold_lease("ledger-worker", "host-b", 60)
    assert not globex.hold_lease("ledger-worker", "host-a", 60)


def test_each_program_has_its_own_xoxoday_tokens(journal, acme, globex):
    sealer = Sealer(["programs-test-secret-key-0123456789abcdef"])
    stores = {bound.program: TokenStore(bound, sealer) for bound in (journal, acme, globex)}
    stores[A].put(TokenPair("a-access", "a-refresh"))
    assert stores[B].get() is None and stores["default"].get() is None
    stores[B].seed(TokenPair("b-access", "b-refresh"))
    stores[A].seed(TokenPair("not-stored", "not-stored"))  # acme has its pair already
    assert stores[B].replace("b-access", TokenPair("b2-access", "b2-refresh"))
    assert not stores[A].replace("b2-access", TokenPair("x", "x"))
    assert stores[A].get() == TokenPair("a-access", "a-refresh")
    assert stores[B].get() == TokenPair("b2-access", "b2-refresh")


def test_debits_of_two_programs_at_once_never_overdraw_either(acme, globex):
    barrier = threading.Barrier(16)

    def debit(job: tuple[Journal, int]) -> str | None:
        bound, i = job
        if i < 8:
            barrier.wait()
        try:
            bound.debit("M", "m", f"O-{i}", 7, 100, {})
            return bound.program
        except Overdraft:
            return None

    jobs = [(bound, i) for i in range(20) for bound in (acme, globex)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(debit, jobs))
    assert results.count(A) == 14 and results.count(B) == 14  # 14 x 7 = 98 <= 100 < 105
    assert acme.totals("M").debited == 98 and globex.totals("M").debited == 98


def test_the_audit_is_per_program_and_operators_have_a_scope(journal, acme, globex):
    Audit(acme).record("alice", "resolve", "O-1", "acme's")
    Audit(globex).record("bob", "mark", "O-1", "globex's")
    assert [e.reason for e in Audit(acme).recent()] == ["acme's"]
    assert [e.reason for e in Audit(globex).recent()] == ["globex's"]
    assert Audit(journal).recent() == []
    operators = Operators(journal)
    everyone = operators.add("alice", "operator", "a-long-enough-password")
    assert everyone.programs == "*" and everyone.sees(A) and everyone.sees("anything")
    some = operators.add("bob", "viewer", "a-long-enough-password", " globex, acme ,acme")
    assert some.programs == "acme,globex" and some.sees(A) and not some.sees("default")
    assert some.visible(["default", B, A]) == [B, A]
    assert operators.verify("bob", "a-long-enough-password") == some
    assert operators.set_programs("bob", [B]) == operators.get("bob")
    assert operators.get("bob").programs == B and not operators.get("bob").sees(A)
    assert operators.set_programs("nobody", "*") is None
    for scope in ("", "*,acme", "a b", ",", []):
        with pytest.raises(OperatorRefused):
            scope_of(scope)


def test_metrics_read_each_program_s_figures(journal, acme, globex):
    fill(acme, 10)
    globex.debit("M", "m", "O-1", 30_000, 10**6, {})

    def samples(collector: JournalCollector, family: str) -> dict[tuple[str, ...], float]:
        found = {f.name: f for f in collector.collect()}
        return {tuple(s.labels.values()): s.value for s in found[family].samples}

    # A journal's own program, labelled as before programs (dashboards and alerts unchanged).
    unfinished = samples(JournalCollector(acme), "points_gateway_journal_unfinished")
    assert unfinished == {("debit",): 1, ("refund",): 0, ("credit",): 0}
    points = samples(JournalCollector(globex), "points_gateway_points")
    assert points == {("debited",): 3.0, ("refunded",): 0.0, ("credited",): 0.0}
    # Given the configured programs, each one's, labelled by program.
    every = JournalCollector(journal, ["default", A, B])
    points = samples(every, "points_gateway_points")
    assert points[("debited", B)] == 3.0 and points[("debited", "default")] == 0.0
    assert points[("debited", A)] == 0.002  # two debits of 10 units (ten-thousandths)
    assert points[("refunded", A)] == 0.0001
    acme.settle_orphan(acme.orphans()[0], utcnow(), "report", lambda i: "")
    orphans = samples(every, "points_gateway_journal_orphans")
    assert orphans[("reported", A)] == 1 and orphans[("reported", B)] == 0

"""The budget of a scheduled run: when it stops starting new steps."""

from chalicelib.budget import SAFETY_MARGIN_MS, Budget


class Left:
    """A Lambda context's time left, set by the test."""

    def __init__(self, ms: float) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> float:
        return self.ms


def test_a_30_s_function_stops_starting_steps_with_5_s_left():
    context = Left(30_000)
    budget = Budget.of(context)

    context.ms = SAFETY_MARGIN_MS
    at_the_margin = budget.left()
    context.ms = SAFETY_MARGIN_MS - 1
    past_it = budget.left()

    assert (budget.margin_ms, at_the_margin, past_it) == (5_000, True, False)


def test_a_function_given_3_s_keeps_a_sixth_of_them():
    # Chalice's local and test contexts give a function 3 s.
    context = Left(3_000)
    budget = Budget.of(context)

    context.ms = 600
    assert budget.margin_ms == 500 and budget.left()
    context.ms = 499
    assert not budget.left()


def test_once_spent_a_budget_stays_spent():
    context = Left(30_000)
    budget = Budget.of(context)
    context.ms = 1_000
    budget.left()

    context.ms = 30_000

    assert not budget.left()

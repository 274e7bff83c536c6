"""The compiled table of the commons game (_kernels) against evaluating each coalition directly.

Raw CommonsGames with random demands, gains, unit costs, spillover and overheads reach branches the
model's games rarely do: members whose commons of one pays only with little outside reading
("kinked"), ties in demand, terms no coalition pools, and more players than the walk's suffix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from simulations.engine._bits import masks_to_bool
from simulations.engine._kernels import LOW_BITS
from simulations.engine.commons import CommonsGame


def random_commons(seed: int, n: int) -> CommonsGame:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 4))
    demand = rng.uniform(0, 10, (k, n)) * (rng.random((k, n)) < 0.8)
    if rng.random() < 0.3:
        demand[:, : n // 2] = demand[:, :1]  # ties
    gain = rng.uniform(0, 3, (k, n))
    return CommonsGame(
        players=tuple(f"p{i}" for i in range(n)),
        alone=rng.uniform(50, 200, n),
        demand=demand,
        gain=gain,
        unit_cost=rng.uniform(0.5, 4, k),
        spill=rng.uniform(0, 1, k) * (rng.random(k) < 0.8),
        overhead_fixed=float(rng.uniform(0, 20)),
        overhead_per_member=float(rng.uniform(0, 5)),
        overhead_exponent=float(rng.uniform(0.5, 1.5)),
    )


def kinked(game: CommonsGame) -> int:
    h1 = game.overhead_fixed + game.overhead_per_member
    margin = game._own_margin  # type: ignore[attr-defined]
    least = (margin * game.demand).sum(axis=0) - (game.spill[:, None] * margin * game.demand).sum(axis=0)
    return int(sum(1 for i in game._own_possible if least[i] < h1))  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(60))
def test_the_compiled_table_equals_each_coalition_evaluated(seed: int) -> None:
    n = 2 + seed % 9 if seed < 50 else LOW_BITS + 1 + seed % 3
    game = random_commons(seed, n)
    every = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    direct = game.costs_of(every)
    table = game.to_explicit().costs
    np.testing.assert_allclose(table, direct, rtol=1e-9, atol=1e-12 * float(np.abs(direct).max()))


def test_the_random_games_reach_kinked_members() -> None:
    """The differential test above is only as good as its games: some must have kinked members."""
    assert sum(kinked(random_commons(seed, 2 + seed % 9)) > 0 for seed in range(50)) >= 5


@pytest.mark.parametrize("seed", range(3))
def test_the_pipelined_table_equals_each_coalition_evaluated(seed: int) -> None:
    """From PIPELINE_PLAYERS on, the next term is walked on a second thread while one is gathered."""
    from simulations.engine._kernels import PIPELINE_PLAYERS

    n = PIPELINE_PLAYERS + seed % 2
    game = random_commons(100 + seed, n)
    every = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    direct = game.costs_of(every)
    np.testing.assert_allclose(game.to_explicit().costs, direct, rtol=1e-9, atol=1e-12 * float(np.abs(direct).max()))


def test_one_thread_or_two_give_the_same_table_bit_for_bit() -> None:
    """Monte Carlo builds its next draw's table on one thread (split=False); the values must not
    depend on that, or a draw's numbers would depend on where its chunk starts."""
    from simulations.engine._kernels import PIPELINE_PLAYERS

    game = random_commons(7, PIPELINE_PLAYERS)
    split = game._build_explicit(split=True).costs
    assert np.array_equal(game._build_explicit(split=False).costs, split)
    # and the per-game values kept on the game equal the table's entries
    full = (1 << game.n) - 1
    assert game.grand_cost() == pytest.approx(split[full], rel=1e-12)
    np.testing.assert_allclose(game.standalone(), split[1 << np.arange(game.n)], rtol=1e-9)
    held = game.standalone()
    held[0] = -1.0  # a caller's copy: what the game keeps does not change
    assert game.standalone()[0] != -1.0


def test_a_job_runs_its_phases_in_order_whichever_threads_work_on_it() -> None:
    """A task of a later phase never starts before every task of the phase before has finished,
    however many threads take tasks, and every task runs exactly once."""
    import threading
    import time

    from simulations.engine._kernels import Job

    events: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def task(phase: int, i: int) -> Callable[[], None]:
        def run() -> None:
            with lock:
                events.append(("start", phase, i))
            time.sleep(0.002 * (i % 3))
            with lock:
                events.append(("end", phase, i))

        return run

    job = Job([[task(p, i) for i in range(7)] for p in range(3)])
    threads = [threading.Thread(target=job.work) for _ in range(3)]
    for t in threads:
        t.start()
    job.work()
    for t in threads:
        t.join()
    assert job.done
    assert sorted((p, i) for kind, p, i in events if kind == "start") == [(p, i) for p in range(3) for i in range(7)]
    for p in range(1, 3):
        first_start = min(idx for idx, (kind, q, _) in enumerate(events) if kind == "start" and q == p)
        last_end = max(idx for idx, (kind, q, _) in enumerate(events) if kind == "end" and q == p - 1)
        assert last_end < first_start


def test_a_failing_task_raises_on_every_thread_that_works_on_the_job() -> None:
    import threading

    from simulations.engine._kernels import Job

    ran: list[int] = []

    def fail() -> None:
        raise ValueError("broken task")

    job = Job([[fail], [lambda: ran.append(1)]])
    errors: list[BaseException] = []

    def other() -> None:
        try:
            job.work()
        except ValueError as error:
            errors.append(error)

    t = threading.Thread(target=other)
    t.start()
    with pytest.raises(ValueError, match="broken task"):
        job.work()
    t.join()
    assert len(errors) == 1 and not ran  # the next phase never starts
    assert job.done


def test_a_table_whose_job_two_threads_share_equals_one_built_alone() -> None:
    """Monte Carlo's draw-ahead thread starts a table's job and the main thread joins it: the
    table is the same, bit for bit, as one thread's."""
    from concurrent.futures import ThreadPoolExecutor

    from simulations.engine._kernels import PIPELINE_PLAYERS

    game = random_commons(11, PIPELINE_PLAYERS + 1)
    alone = game._build_explicit(split=False).costs
    job, _ = game.table_job()
    with ThreadPoolExecutor(1) as pool:
        started = pool.submit(job.work)
        shared = game.to_explicit(split=False).costs
        started.result()
    assert np.array_equal(shared, alone)
    assert "_table_job" not in game.__dict__  # the job and its work arrays are let go


@pytest.mark.parametrize("n", [1, 2, 5, LOW_BITS, LOW_BITS + 1, LOW_BITS + 3])
def test_member_sums_are_the_weighted_sums_over_the_coalitions_containing_each_player(n: int) -> None:
    """Shapley's and Banzhaf's pass (_kernels.member_sums) against the definition, coalition by coalition."""
    from simulations.engine._kernels import member_sums

    rng = np.random.default_rng(n)
    values = rng.normal(size=1 << n) * 1e9
    weights = rng.random(n + 1)
    members = masks_to_bool(np.arange(1 << n, dtype=np.int64), n)
    weighted = values * weights[members.sum(axis=1)]
    sums, total = member_sums(values, n, weights)
    np.testing.assert_allclose(sums, weighted @ members, rtol=1e-12, atol=1e-12 * np.abs(weighted).sum())
    assert total == pytest.approx(weighted.sum(), rel=1e-12, abs=1e-12 * np.abs(weighted).sum())

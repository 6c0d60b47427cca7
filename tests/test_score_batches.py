"""How the hf engine cuts scoring rows into batches: fewest tokens run, padding and each pass's cost counted,
under the token budget and the row cap (no model needed: the cut is arithmetic on the rows' lengths)."""

from promptkit.engines.hf_score import PASS_TOKENS, _batches

CPU = PASS_TOKENS["cpu"]


def _rows(*lengths: int) -> list[tuple[int, list[int], list[int]]]:
    return [(g, [1] * n, [0]) for g, n in enumerate(lengths)]


def _lengths(batches: list[list]) -> list[list[int]]:
    return [[len(ids) for _, ids, _ in batch] for batch in batches]


def test_long_and_short_rows_go_in_separate_batches_on_a_cpu():
    rows = _rows(60, 1500, 59, 1490, 58)
    assert _lengths(_batches(rows, 100_000, 64, CPU)) == [[1500, 1490], [60, 59, 58]]


def test_rows_of_near_lengths_share_one_pass():
    rows = _rows(*range(100, 100 - CPU // 32, -1))  # a second pass would save less than it costs
    assert len(_batches(rows, 100_000, 64, CPU)) == 1


def test_a_costlier_pass_keeps_few_wide_batches():
    assert _lengths(_batches(_rows(60, 1500, 59), 100_000, 64, 4096)) == [[1500, 60, 59]]


def test_the_token_budget_and_row_cap_hold_and_every_row_is_scored_once():
    rows = _rows(*[40 + (7 * i) % 50 for i in range(40)])
    batches = _batches(rows, 300, 5, CPU)
    assert all(len(b) <= 5 and (len(b) == 1 or len(b) * len(b[0][1]) <= 300) for b in batches)
    assert sorted(g for b in batches for g, _, _ in b) == list(range(40))


def test_a_shared_prefix_is_not_counted_as_padding():
    """Rows after 1000 shared tokens: 1030 and 1010 differ by 20 fed tokens, not by 2% of a row."""
    rows = _rows(1030, 1010, 1002)
    assert len(_batches(rows, 100_000, 64, CPU, prefix=1000)) == 1
    assert len(_batches(_rows(300, 30), 100_000, 64, CPU, prefix=0)) == 2


def test_a_group_behind_a_shared_prefix_forms_only_where_it_saves_more_than_its_passes_cost():
    """Two contexts sharing 40 tokens save 40 by running them once: worth it only when passes cost nothing."""
    import itertools

    from promptkit.engines.hf_score import _prefix_groups
    from promptkit.engines.implementing import common_prefix_length

    contexts = sorted((*range(40), 100 + k, 7) for k in range(2))
    shared = [0] + [common_prefix_length(a, b) for a, b in itertools.pairwise(contexts)]
    assert [(len(m), p) for m, p in _prefix_groups(contexts, shared, 0)] == [(2, 40)]
    assert [len(m) for m, _ in _prefix_groups(contexts, shared, 2 * CPU)] == [1, 1]

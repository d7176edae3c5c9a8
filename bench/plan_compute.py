"""Plan computation: proposing a map plan for 50 source x 50 destination fields from 100 sample rows.

The source fields are headers as files have them (spaced, cased, abbreviated, a few unrelated); the
destination fields are camelCase keys with labels, typed (numbers, dates, booleans, enums). Timed
against a baseline in the same run: validating the same 100 rows against the destination's 50
fields (jobs_core.validation.validate_record), the work writing those rows costs anyway. Also
reported: how many of the 40 fields that have a counterpart the plan found.

Checked claim (issue 6): a plan costs at most 10x the validation of its sample (it compares 2,500
pairs of fields by name and sample values, where validation reads 5,000 cells once).

    python bench/plan_compute.py [--rounds 20]
"""

import argparse
import gc
import time
from typing import Any

import system_job_setup  # noqa: F401 - puts the layer on sys.path

MAX_RATIO = 10.0
WORDS = ['first', 'last', 'email', 'phone', 'street', 'city', 'state', 'zip', 'country', 'company']
KINDS = ['string', 'number', 'date', 'boolean', 'enum']


def fields() -> tuple[list[Any], list[Any], dict[str, str]]:
    """50 source and 50 destination fields; 40 have a counterpart (expected: source key → destination key)."""
    from jobs_core.models.workbook import SheetField

    sources, destinations, expected = [], [], {}
    for index in range(50):
        word, group = WORDS[index % 10], index // 10
        kind = KINDS[group]
        options = [{'value': f'opt{n}', 'label': f'Option {n}'} for n in range(8)]
        config = {'options': options} if kind == 'enum' else None
        destinations.append(
            SheetField(key=f'{word}Value{group}', type=kind, label=f'{word.title()} value {group}', config=config)
        )
        header = f'{word.upper()} VALUE {group}' if index % 3 else f'{word}_val_{group}'
        if index >= 40:  # ten sources with no counterpart
            header = f'unrelated column {index}'
        else:
            expected[header] = f'{word}Value{group}'
        sources.append(SheetField(key=header, type='string', label=header))
    return sources, destinations, expected


def sample(sources: list[Any], destinations: list[Any]) -> list[dict[str, Any]]:
    values = {'string': 'text {n}', 'number': '{n}', 'date': '2024-01-{d:02d}', 'boolean': 'yes', 'enum': 'Option {o}'}
    rows = []
    for n in range(100):
        row = {}
        for index, (source, destination) in enumerate(zip(sources, destinations, strict=True)):
            kind = destination.type if index < 40 else 'string'  # the unrelated hold plain text
            row[source.key] = values[kind].format(n=n, d=n % 28 + 1, o=n % 8)
        rows.append(row)
    return rows


def timed(work: Any, rounds: int) -> float:
    best = float('inf')
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=20)
    arguments = parser.parse_args()
    from jobs_core import mapping
    from jobs_core.validation import validate_record

    sources, destinations, expected = fields()
    rows = sample(sources, destinations)
    by_key = {field.key: field for field in destinations}
    moved = [
        {destination.key: row[source.key] for source, destination in zip(sources, destinations, strict=True)}
        for row in rows
    ]

    def plan() -> Any:
        mapping.words.cache_clear()  # every plan starts cold: no names read before
        return mapping.propose(sources, rows, destinations)

    proposed = plan()
    found = {edge.source_field.key: edge.destination_field.key for edge in proposed.field_mapping}
    right = sum(found.get(source) == destination for source, destination in expected.items())
    wrong = sum(1 for source, destination in found.items() if expected.get(source) != destination)

    planning = timed(plan, arguments.rounds)
    validating = timed(lambda: [validate_record(by_key, values) for values in moved], arguments.rounds)
    ratio = planning / validating
    print(f'A plan for 50 x 50 fields from 100 sample rows; best of {arguments.rounds}\n')
    header = f'{"work":<52} {"ms":>8} {"vs base":>8}'
    print(header)
    print('-' * len(header))
    print(f'{"baseline: validate 100 rows x 50 fields":<52} {validating * 1000:>8.2f} {1:>8.2f}')
    print(f'{"propose the plan (2,500 pairs, names and samples)":<52} {planning * 1000:>8.2f} {ratio:>8.2f}')
    print(f'\nedges: {right} of {len(expected)} counterparts found, {wrong} wrong, {50 - len(expected)} left unmapped')
    ok = ratio <= MAX_RATIO and wrong == 0
    failure = f'FAIL: {ratio:.1f}x the baseline (max {MAX_RATIO}), {wrong} wrong'
    print('\n' + ('OK: every claim holds' if ok else failure))
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(main())

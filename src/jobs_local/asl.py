"""Checks Step Functions definitions (Amazon States Language) the way the deploy would, offline.

Neither `sam validate` nor cfn-lint looks inside a `DefinitionUri` file, and moto accepts a
`Next` that points nowhere, so a broken transition would only show on AWS. This module finds
those mistakes: unknown state types, transitions to states outside their scope, states that are
unreachable or never end, and `${Name}` placeholders that no DefinitionSubstitutions provide.
The template tests run it on every `statemachines/*.asl.json`; `substitute` fills a definition's
placeholders as CloudFormation does, for the local stack.
"""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobs_local.template import TEMPLATE, resources

STATE_TYPES: Final = frozenset({'Task', 'Pass', 'Choice', 'Wait', 'Succeed', 'Fail', 'Parallel', 'Map'})
# States that end or branch by themselves and so never take `Next` or `End`.
NO_NEXT: Final = frozenset({'Succeed', 'Fail', 'Choice'})
PLACEHOLDER: Final = re.compile(r'\$\{([A-Za-z0-9_.:-]+)\}')
STATE_MACHINE: Final = 'AWS::Serverless::StateMachine'


@dataclass(frozen=True, slots=True)
class StateMachineRef:
    """A template state machine that loads its definition from a file."""

    logical_id: str
    definition: Path
    substitutions: frozenset[str]


def placeholders(text: str) -> set[str]:
    """The `${Name}` placeholders in a definition's text."""
    return set(PLACEHOLDER.findall(text))


def substitute(text: str, values: Mapping[str, str]) -> str:
    """The definition with its placeholders replaced, as CloudFormation does with DefinitionSubstitutions."""
    missing = placeholders(text) - values.keys()
    if missing:
        raise KeyError(f'No substitution for {", ".join(sorted(missing))}')
    return PLACEHOLDER.sub(lambda found: str(values[found.group(1)]), text)


def check_definition(definition: Any, provided: set[str] | frozenset[str] | None = None) -> list[str]:
    """Every problem in a parsed definition; an empty list means it is sound.

    `provided`: the placeholder names the definition may use; None skips that check.
    """
    problems: list[str] = []
    seen: dict[str, str] = {}
    for scope, start, states in _scopes(definition, 'StateMachine', problems):
        problems.extend(_check_scope(scope, start, states, seen))
    if provided is not None:
        unknown = placeholders(json.dumps(definition)) - set(provided)
        problems.extend(f'placeholder ${{{name}}} is not in DefinitionSubstitutions' for name in sorted(unknown))
    return problems


def check_file(path: Path, provided: set[str] | frozenset[str] | None = None) -> list[str]:
    try:
        definition = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        return [f'{path.name} is not valid JSON: {error}']
    return check_definition(definition, provided)


def state_machines(template: Path = TEMPLATE) -> list[StateMachineRef]:
    """The template's state machines that load a local definition file (DefinitionUri)."""
    found = []
    for name, spec in resources(STATE_MACHINE, template).items():
        properties = spec.get('Properties', {})
        uri = properties.get('DefinitionUri')
        if isinstance(uri, str):
            substitutions = frozenset(properties.get('DefinitionSubstitutions', {}))
            found.append(StateMachineRef(name, (template.parent / uri).resolve(), substitutions))
    return found


# ---------------------------------------------------------------- the walk
def _scopes(machine: Any, where: str, problems: list[str]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Each (scope name, StartAt, States) in the machine: the top level, every Map processor, every Parallel branch."""
    if not isinstance(machine, dict):
        problems.append(f'{where}: is not a JSON object')
        return
    states = machine.get('States')
    if not isinstance(states, dict) or not states:
        problems.append(f'{where}: has no States')
        return
    start = machine.get('StartAt')
    if not isinstance(start, str):
        problems.append(f'{where}: has no StartAt')
    elif start not in states:
        problems.append(f'{where}: StartAt {start!r} is not a state of this scope')
    yield where, start, states
    for name, state in states.items():
        for inner_where, inner in _nested(f'{where}.{name}', state, problems):
            yield from _scopes(inner, inner_where, problems)


def _nested(where: str, state: Any, problems: list[str]) -> Iterator[tuple[str, Any]]:
    """The machines a state holds: a Map's ItemProcessor (or older Iterator), a Parallel's Branches."""
    kind = state.get('Type') if isinstance(state, dict) else None
    if kind == 'Map':
        field = 'ItemProcessor' if 'ItemProcessor' in state else 'Iterator'
        if field not in state:
            problems.append(f'{where}: a Map state needs an ItemProcessor')
        else:
            yield f'{where}.{field}', state[field]
    elif kind == 'Parallel':
        branches = state.get('Branches')
        if not isinstance(branches, list) or not branches:
            problems.append(f'{where}: a Parallel state needs Branches')
        else:
            yield from ((f'{where}.Branches[{position}]', branch) for position, branch in enumerate(branches))


def _check_scope(scope: str, start: Any, states: dict[str, Any], seen: dict[str, str]) -> list[str]:
    problems = []
    for name, state in states.items():
        where = f'{scope}.{name}'
        if name in seen:
            problems.append(f'{where}: the name is also used in {seen[name]}; state names are unique per machine')
        seen.setdefault(name, scope)
        if not isinstance(state, dict):
            problems.append(f'{where}: is not a JSON object')
            continue
        problems.extend(_check_state(where, state))
        problems.extend(
            f'{where}: {field} {target!r} is not a state of this scope'
            for field, target in _transitions(state)
            if target not in states
        )
    problems.extend(_unreachable(scope, start, states))
    return problems


def _check_state(where: str, state: dict[str, Any]) -> list[str]:
    kind = state.get('Type')
    if kind not in STATE_TYPES:
        return [f'{where}: unknown Type {kind!r}']
    problems = []
    ends = state.get('End') is True
    if kind in NO_NEXT:
        if 'Next' in state or 'End' in state:
            problems.append(f'{where}: a {kind} state takes neither Next nor End')
    elif ends and 'Next' in state:
        problems.append(f'{where}: has both Next and End')
    elif not ends and not isinstance(state.get('Next'), str):
        problems.append(f'{where}: needs Next, or End: true')
    if kind == 'Choice' and not (isinstance(state.get('Choices'), list) and state['Choices']):
        problems.append(f'{where}: a Choice state needs Choices')
    if kind == 'Task':
        resource = state.get('Resource')
        if not isinstance(resource, str) or not (resource.startswith('arn:') or PLACEHOLDER.fullmatch(resource)):
            problems.append(f'{where}: Resource must be an ARN or a ${{Placeholder}}, not {resource!r}')
    return problems


def _transitions(state: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field, target) for every transition a state declares."""
    if 'Next' in state:
        yield 'Next', state['Next']
    if 'Default' in state:
        yield 'Default', state['Default']
    for position, choice in enumerate(state.get('Choices') or []):
        if isinstance(choice, dict):
            yield f'Choices[{position}].Next', choice.get('Next')
    for position, catcher in enumerate(state.get('Catch') or []):
        if isinstance(catcher, dict):
            yield f'Catch[{position}].Next', catcher.get('Next')


def _unreachable(scope: str, start: Any, states: dict[str, Any]) -> list[str]:
    """States no path from StartAt leads to: Step Functions rejects a definition that has any."""
    if start not in states:
        return []  # already reported
    reached = {start}
    pending = [start]
    while pending:
        state = states[pending.pop()]
        if not isinstance(state, dict):
            continue
        for _, target in _transitions(state):
            if target in states and target not in reached:
                reached.add(target)
                pending.append(target)
    return [f'{scope}.{name}: is not reachable from StartAt' for name in states if name not in reached]

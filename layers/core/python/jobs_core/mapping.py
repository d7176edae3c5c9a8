"""Mapping one sheet's fields onto another's: the plan a map job proposes, and how it moves values.

Pure (no I/O). The planner scores every source field against every destination field by name (keys
and labels, normalised: case, accents, camelCase, punctuation; then rapidfuzz similarity) and by
sample values (how many of them an enum destination knows as options, how many read as a typed
destination's type), then takes the best pairs one to one. Names equal once normalised are
`absolute`; below MIN_CONFIDENCE a field stays unmapped. For an enum destination, the distinct
sample values are matched onto its options (`enumDetails`), and the values a run meets that the
plan does not name are matched the same way, once each.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from rapidfuzz import fuzz, process

from jobs_core.models.plan import (
    MAX_ENUM_MAPPINGS,
    CategoryMapping,
    Certainty,
    DestinationField,
    Edge,
    EdgeMetadata,
    EnumDetails,
    JobExecutionPlan,
    Property,
    SourceField,
)
from jobs_core.models.workbook import EnumOption, OptionValue, SheetField
from jobs_core.validation import is_empty, validate

MIN_CONFIDENCE: Final = 0.6
# A value is taken for an option it is at least this similar to (after normalising both).
MIN_OPTION_SIMILARITY: Final = 0.85
SAMPLE_ROWS: Final = 100
# How many distinct sample values judge how well a source's values fit a field's type: enough for a share.
FIT_VALUES: Final = 30
PREVIEW_VALUES: Final = 10
PREVIEW_CHARS: Final = 200
_ENUM_TYPES: Final = frozenset({'enum', 'enum-list'})
_LIST_TYPES: Final = frozenset({'string-list', 'enum-list'})
_TYPED: Final = frozenset({'number', 'boolean', 'date'})
_CAMEL: Final = re.compile(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])')
_NOT_WORD: Final = re.compile(r'[\W_]+')
_LIST_SEPARATOR: Final = re.compile(r'\s*[,;|]\s*')


# ---------------------------------------------------------------- names and values
@lru_cache(maxsize=4096)
def words(text: str) -> str:
    """`First_Name`, `firstName`, `FIRST NAME` → `first name`; `Prénom` → `prenom`; letters of any
    script are kept (`名前` stays), accents and punctuation are not."""
    decomposed = unicodedata.normalize('NFKD', _CAMEL.sub(' ', text))
    plain = ''.join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(' ', plain.casefold()).strip()


def _compact(text: str) -> str:
    return words(text).replace(' ', '')


# Names files give the fields people import most, that no spelling similarity joins (English only): a
# name of a group and a name of the same group are a strong match.
_SYNONYMS: Final = (
    ('firstname', 'givenname', 'forename', 'fname'),
    ('lastname', 'surname', 'familyname', 'lname'),
    ('email', 'emailaddress', 'mail', 'emailid'),
    ('phone', 'phonenumber', 'telephone', 'tel', 'mobile', 'cellphone', 'mobilephone', 'mobilenumber'),
    ('zip', 'zipcode', 'postcode', 'postalcode'),
    ('company', 'companyname', 'organization', 'organisation', 'employer'),
    ('dob', 'dateofbirth', 'birthdate', 'birthday'),
    ('address', 'streetaddress', 'street', 'addressline1', 'address1'),
    ('state', 'province', 'stateprovince'),
    ('city', 'town'),
    ('name', 'fullname'),
)
_GROUP: Final = {name: group for group, names in enumerate(_SYNONYMS) for name in names}
SYNONYM_SCORE: Final = 0.9
KNOWN_APART: Final = 0.3


def similarity(a: str, b: str) -> float:
    """From 0 to 1: 1 when the two read the same once normalised; SYNONYM_SCORE for known synonyms
    (`Surname`, `lastName`) and KNOWN_APART for names of two known fields (`Surname`, `firstName`);
    else rapidfuzz's best of word order (token sort) and spelling (plain ratio of the words run
    together), or an abbreviation's score."""
    short, long = sorted((_compact(a), _compact(b)), key=len)
    if short == long:
        return 1.0 if short else 0.0
    if short in _GROUP and long in _GROUP:
        # Both known: the same field, or two fields known to differ however alike they are spelt.
        return SYNONYM_SCORE if _GROUP[short] == _GROUP[long] else KNOWN_APART
    scores = [fuzz.token_sort_ratio(words(a), words(b)) / 100, fuzz.ratio(short, long) / 100]
    if _abbreviates(short, long):
        scores.append(0.7 + 0.1 * len(short) / len(long))
    return max(scores)


def _abbreviates(short: str, long: str) -> bool:
    """`qty` for `quantity`, `addr` for `address`: the same first letter, then the rest in order."""
    if len(short) < 2 or short[0] != long[0]:
        return False
    rest = iter(long[1:])
    return all(letter in rest for letter in short[1:])


def _names(prop: SheetField) -> list[str]:
    return [name for name in (prop.key, prop.label) if name]


def name_similarity(source: SheetField, destination: SheetField) -> float:
    return max(similarity(a, b) for a in _names(source) for b in _names(destination))


class Options:
    """An enum field's options, ready to match values against: each option's value and label once
    normalised, for an exact lookup, then rapidfuzz's extractOne over them (in C) for close spellings."""

    def __init__(self, options: Sequence[EnumOption]) -> None:
        self._typed = {_typed_key(option.value): option.value for option in options}
        self._names: list[str] = []
        self._values: list[OptionValue] = []
        for option in options:
            for name in (str(option.value), option.label):
                if name and _compact(name):
                    self._names.append(_compact(name))
                    self._values.append(option.value)
        self._exact = dict(zip(self._names, self._values, strict=True))

    def match(self, value: Any) -> tuple[OptionValue, float] | None:
        """The option `value` stands for, with how sure: its value as given, then its value or label
        once normalised, then by similarity of at least MIN_OPTION_SIMILARITY; None when nothing is close."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        if (found := self._typed.get(_typed_key(value))) is not None:
            return found, 1.0
        text = _compact(str(value))
        if text in self._exact:
            return self._exact[text], 1.0
        best = process.extractOne(text, self._names, scorer=fuzz.ratio, score_cutoff=MIN_OPTION_SIMILARITY * 100)
        return (self._values[best[2]], round(best[1] / 100, 3)) if best else None


def _typed_key(value: OptionValue) -> str:
    return f'{type(value).__name__}:{value}'


def match_option(value: Any, options: Sequence[EnumOption]) -> tuple[OptionValue, float] | None:
    return Options(options).match(value)


def _items(value: Any, destination_type: str) -> list[Any]:
    """A list destination takes a list; a text of it (`a, b; c`) is split."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and destination_type in _LIST_TYPES:
        return [item for item in _LIST_SEPARATOR.split(value.strip()) if item]
    return [value]


def _distinct(samples: Iterable[dict[str, Any]], key: str) -> list[Any]:
    seen: dict[str, Any] = {}
    for values in samples:
        value = values.get(key)
        if not is_empty(value):
            seen.setdefault(repr(value), value)
    return list(seen.values())


def _preview(values: list[Any]) -> list[str]:
    return [str(value)[:PREVIEW_CHARS] for value in values[:PREVIEW_VALUES]]


# ---------------------------------------------------------------- the plan
@dataclass(frozen=True, slots=True)
class _Candidate:
    confidence: float
    source: int
    destination: int
    how: str


def certainty(confidence: float) -> Certainty:
    if confidence >= 1.0:
        return 'absolute'
    if confidence >= 0.85:
        return 'strong'
    if confidence >= 0.7:
        return 'moderate'
    return 'weak'


class _Target:
    """A destination field with what scoring needs of it worked out once: its options, and the type
    fit of each source's values (which for a typed field depends on its type alone)."""

    def __init__(self, field: SheetField, fits: dict[tuple[str, str], float]) -> None:
        self.field = field
        self.options = Options(field.options()) if field.type in _ENUM_TYPES else None
        self._fits = fits

    def fit(self, source: str, values: list[Any]) -> float:
        """The share of sample values this field would take as they are (1 for text)."""
        if not values or (self.options is None and self.field.type not in _TYPED):
            return 1.0
        key = (source, self.field.key if self.options is not None else self.field.type)
        if key not in self._fits:
            if self.options is not None:
                items = [item for value in values for item in _items(value, self.field.type)]
                found = sum(self.options.match(item) is not None for item in items)
                self._fits[key] = found / max(1, len(items))
            else:
                self._fits[key] = sum(bool(validate(self.field, value)['valid']) for value in values) / len(values)
        return self._fits[key]


def _score(source: SheetField, target: _Target, values: list[Any]) -> tuple[float, str]:
    name = name_similarity(source, target.field)
    if name >= 1.0:
        return 1.0, 'exact'
    if target.options is None and name < MIN_CONFIDENCE:
        return name, 'similarity'  # the values can only lower it: no need to read them
    fit = target.fit(source.key, values[:FIT_VALUES])
    if target.options is not None and len(values) >= 3 and fit >= 0.6:
        # The values say it even where the names do not: most of them are this field's options.
        return max(name, 0.5 + 0.4 * fit), 'values'
    # Names alike but values that do not fit (text in a number field) make a weaker match.
    return name * (0.75 + 0.25 * fit), 'similarity'


def enum_details(destination: SheetField, values: list[Any], options: Options | None = None) -> EnumDetails:
    options = options or Options(destination.options())
    mapping: list[CategoryMapping] = []
    unused_source: list[OptionValue] = []
    used: set[str] = set()
    items = (item for value in values for item in _items(value, destination.type))
    for value in dict.fromkeys(item for item in items if isinstance(item, str | int | float)):
        found = options.match(value)
        if found is None:
            unused_source.append(value)
        else:
            mapping.append(CategoryMapping(source_value=value, destination_value=found[0]))
            used.add(_typed_key(found[0]))
    unused_destination = [option.value for option in destination.options() if _typed_key(option.value) not in used]
    return EnumDetails(
        mapping=mapping[:MAX_ENUM_MAPPINGS],
        unused_source_values=unused_source[:MAX_ENUM_MAPPINGS],
        unused_destination_values=unused_destination[:MAX_ENUM_MAPPINGS],  # a field may have more options
    )


def _property(prop: SheetField) -> Property:
    return Property.model_validate(prop.model_dump(by_alias=True, exclude_none=True))


def propose(
    sources: Sequence[SheetField], samples: Sequence[dict[str, Any]], destinations: Sequence[SheetField]
) -> JobExecutionPlan:
    """The plan for mapping `sources` onto `destinations`, from up to SAMPLE_ROWS rows of source values."""
    rows = list(samples[:SAMPLE_ROWS])
    values = {source.key: _distinct(rows, source.key) for source in sources}
    fits: dict[tuple[str, str], float] = {}
    targets = [_Target(destination, fits) for destination in destinations]
    candidates = []
    for s, source in enumerate(sources):
        for d, target in enumerate(targets):
            confidence, how = _score(source, target, values[source.key])
            if confidence >= MIN_CONFIDENCE:
                candidates.append(_Candidate(round(confidence, 3), s, d, how))
    # Best first, one to one: a field takes part in one edge at most.
    candidates.sort(key=lambda found: (-found.confidence, found.source, found.destination))
    taken_sources: set[int] = set()
    taken_destinations: set[int] = set()
    edges: dict[int, Edge] = {}
    for found in candidates:
        if found.source in taken_sources or found.destination in taken_destinations:
            continue
        taken_sources.add(found.source)
        taken_destinations.add(found.destination)
        source, target = sources[found.source], targets[found.destination]
        details = None
        if target.options is not None:
            details = enum_details(target.field, values[source.key], target.options)
        edges[found.source] = Edge(
            source_field=_property(source),
            destination_field=_property(target.field),
            preview=_preview(values[source.key]),
            enum_details=details,
            metadata=EdgeMetadata(certainty=certainty(found.confidence), confidence=found.confidence, source=found.how),
        )
    return JobExecutionPlan(
        field_mapping=[edges[s] for s in sorted(edges)],
        unmapped_source_fields=[
            SourceField(source_field=_property(source), preview=_preview(values[source.key]))
            for s, source in enumerate(sources)
            if s not in taken_sources
        ],
        unmapped_destination_fields=[
            DestinationField(destination_field=_property(destination))
            for d, destination in enumerate(destinations)
            if d not in taken_destinations
        ],
    )


# ---------------------------------------------------------------- running it
@dataclass(slots=True)
class _Route:
    source: str
    destination: SheetField
    # A plan's enum mapping, by repr of the source value; None: the plan maps that value to nothing.
    chosen: dict[str, OptionValue | None] = field(default_factory=dict)
    options: Options | None = None


class Mapper:
    """Moves a source record's values into destination values as a plan says: each edge's value, a
    list split for list fields, enum values by the plan's mapping, then matched to an option (once
    per distinct value). Types are read by the destination's validation on write, which keeps
    what it cannot read, marked invalid."""

    def __init__(self, plan: JobExecutionPlan, destinations: dict[str, SheetField]) -> None:
        self._routes = []
        for edge in plan.field_mapping:
            destination = destinations[edge.destination_field.key]
            route = _Route(edge.source_field.key, destination)
            if destination.type in _ENUM_TYPES:
                route.options = Options(destination.options())
                for pair in edge.enum_details.mapping if edge.enum_details else ():
                    if pair.source_value is not None:
                        route.chosen[repr(pair.source_value)] = pair.destination_value
            self._routes.append(route)

    def __call__(self, values: dict[str, Any]) -> dict[str, Any]:
        moved: dict[str, Any] = {}
        for route in self._routes:
            value = values.get(route.source)
            if is_empty(value):
                continue
            if route.destination.type in _LIST_TYPES:
                items = (self._option(route, item) for item in _items(value, route.destination.type))
                value = [item for item in items if item is not None]
            elif route.options is not None:
                value = self._option(route, value)
            if not is_empty(value):
                moved[route.destination.key] = value
        return moved

    @staticmethod
    def _option(route: _Route, value: Any) -> Any:
        if route.options is None:
            return value
        key = repr(value)
        if key not in route.chosen:
            found = route.options.match(value)
            # Kept as it is when no option is close: the write marks it invalid, for a person to fix.
            route.chosen[key] = found[0] if found else value
        return route.chosen[key]

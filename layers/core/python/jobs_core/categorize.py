"""Categorising values into the options of an enum field, for `sheet:ai-assist`.

A Categorizer takes a batch of distinct values (as text), the options (value, label) and optional
instructions, and answers, per value, the option it chose (or none) and a confidence from 0 to 1.

Two providers:
- `LocalCategorizer` (the default): string and token similarity (rapidfuzz) between each value and
  each option's label and value. It is NOT a language model: it knows no synonyms ("HR" is not
  "Human Resources"), ignores the instructions, and only catches spelling, case, accent, punctuation
  and word-order differences. What it is unsure of it leaves uncategorised.
- `BedrockCategorizer` (jobs_core.bedrock): a model on Amazon Bedrock, when the deployment names one.

`configured_categorizer` chooses between them, from the settings, in this one place.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final, Protocol

from rapidfuzz import fuzz

from jobs_core.mapping import words
from jobs_core.validation import text_of

if TYPE_CHECKING:
    from jobs_core.models.workbook import EnumOption, OptionValue

LOCAL: Final = 'local'
# The local provider's floor: a best match under this is no category (left empty, reported).
LOCAL_THRESHOLD: Final = 0.75
# Partial and token matching on a value this short says little ("a" is "apple" to WRatio).
_SHORT: Final = 4


@dataclass(frozen=True, slots=True)
class Category:
    option: 'OptionValue | None'  # the chosen option's value; None: no option fits (uncategorised)
    confidence: float  # 0 to 1

    @property
    def found(self) -> bool:
        return self.option is not None


NONE: Final = Category(None, 0.0)


class Categorizer(Protocol):
    name: str  # written beside each category it gives: "local", "bedrock:<model id>"
    page_size: int  # records a step reads at a time; a page's distinct values are asked for together
    step_floor: int  # records a step goes through before it heeds its time budget

    def categorize(
        self, values: Sequence[str], options: Sequence['EnumOption'], instructions: str | None = None
    ) -> dict[str, Category]:
        """A category for each of the distinct `values` (missing or NONE: uncategorised)."""
        ...


def normalized(text: str) -> str:
    """Case, accents, punctuation and spacing set aside, as map plans read names: "  Crème-Brûlée " →
    "creme brulee"."""
    return words(text)


class LocalCategorizer:
    """String and token similarity, not a language model (see the module's docstring). An exact match
    (after normalising) is confidence 1.0; anything else at most 0.99."""

    name = LOCAL
    page_size = 1000
    step_floor = 20_000  # thousands of values a second: a step's floor is done in well under a minute

    def __init__(self, threshold: float = LOCAL_THRESHOLD) -> None:
        self._threshold = threshold

    def categorize(
        self, values: Sequence[str], options: Sequence['EnumOption'], instructions: str | None = None
    ) -> dict[str, Category]:
        candidates = [
            (option.value, [normalized(text) for text in (option.label, text_of(option.value)) if text])
            for option in options
        ]
        return {value: self._best(normalized(value), candidates) for value in dict.fromkeys(values)}

    def _best(self, value: str, candidates: list[tuple['OptionValue', list[str]]]) -> Category:
        if not value:
            return NONE
        best = NONE
        for option, texts in candidates:  # the first option wins a tie: options are in the order given
            score = max((_similarity(value, text) for text in texts if text), default=0.0)
            if score > best.confidence:
                best = Category(option, score)
        return best if best.confidence >= self._threshold else NONE


def _similarity(value: str, text: str) -> float:
    if value == text:
        return 1.0
    # WRatio: the best of plain, partial and token matching, weighted; plain only for short strings.
    score = fuzz.ratio(value, text) if min(len(value), len(text)) < _SHORT else fuzz.WRatio(value, text)
    return round(min(score / 100, 0.99), 3)


@cache
def configured_categorizer() -> Categorizer:
    """The provider this deployment categorises with: Bedrock when a model is configured
    (ASSIST_MODEL_ID), otherwise the local one."""
    from jobs_core.settings import assist_settings  # noqa: PLC0415 - read on first use only

    model_id = assist_settings().assist_model_id.strip()
    if not model_id:
        return LocalCategorizer()
    from jobs_core.bedrock import BedrockCategorizer  # noqa: PLC0415 - boto3 only when Bedrock is used

    return BedrockCategorizer(model_id)

"""Which lifecycle events one change of a job item means, from its old and new image.

Pure: the publisher calls it for every stream record, tests call it directly.
"""

from typing import Any, Final

# A status reached with its own topic; every other status change is a job:updated.
STATUS_TOPICS: Final = {
    'ready': 'job:ready',
    'complete': 'job:completed',
    'failed': 'job:failed',
    'scheduled': 'job:scheduled',
}
# Bookkeeping that changes with every write and means nothing to a listener on its own.
_BOOKKEEPING: Final = frozenset({'version', 'updatedAt', 'updatedBy', 'statusKey', 'listSk', 'executionArn'})
PART_COUNTERS: Final = ('partsCompleted', 'partsFailed', 'partsCanceled')


def parts_done(image: dict[str, Any] | None) -> bool:
    """All parts of a split job are terminal."""
    if not image or not image.get('partsTotal'):
        return False
    return sum(int(image.get(counter, 0)) for counter in PART_COUNTERS) >= int(image['partsTotal'])


def job_topics(event_name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    if event_name == 'REMOVE':
        return ['job:deleted']
    assert new is not None
    if event_name == 'INSERT' or old is None:
        topics = ['job:created']
        if new.get('status') in {'ready', 'scheduled'}:
            topics.append(STATUS_TOPICS[new['status']])
        return topics

    topics = []
    status_changed = old.get('status') != new.get('status')
    if status_changed:
        topics.append(STATUS_TOPICS.get(new.get('status', ''), 'job:updated'))
    if new.get('outcomeAcknowledgedAt') and not old.get('outcomeAcknowledgedAt'):
        topics.append('job:outcome-acknowledged')
    if parts_done(new) and not parts_done(old):
        topics.append('job:parts-completed')
    if not topics and _changed(old, new) - _BOOKKEEPING - set(PART_COUNTERS) - {'partsTotal'}:
        topics.append('job:updated')
    return topics


def _changed(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}

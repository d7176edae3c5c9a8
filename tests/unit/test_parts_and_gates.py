"""Split jobs, jobs waiting on predecessors, and scheduled jobs."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs_core.jobs import JobService
from jobs_core.store import DynamoJobStore
from tests.builders import TENANT


@pytest.fixture
def gates(dynamodb) -> JobService:
    """The service as the gate keeper calls it when a job finishes or a schedule fires."""
    return JobService(DynamoJobStore('jobs-test', dynamodb))


@pytest.fixture
def executing(api, create_job):
    def make(**fields):
        jid = create_job(trigger='immediate', **fields)['id']
        assert api('POST', f'/v1/jobs/{jid}/ack').status == 200
        return jid

    return make


def parts_of(api, parent):
    reply = api('GET', '/v1/jobs', query={'parentId': parent, 'sortDirection': 'asc', 'pageSize': '100'})
    return reply.data


# ---------------------------------------------------------------- split
def test_parallel_split_makes_ready_parts(api, executing):
    # GIVEN an executing job
    parent = executing(spaceId='us_sp_1', input={'q': 1})
    # WHEN it is split into three parallel parts
    reply = api('POST', f'/v1/jobs/{parent}/split', {'parts': 3, 'runInParallel': True})
    # THEN the parent stays executing with its count, and every part is ready at once
    assert reply.status == 200, reply.body
    assert (reply.data['status'], reply.data['partsTotal'], reply.data['partsCompleted']) == ('executing', 3, 0)
    parts = parts_of(api, parent)
    assert [part['part'] for part in parts] == [0, 1, 2]
    for index, part in enumerate(parts):
        assert part['status'] == 'ready'
        assert part['parentId'] == parent
        assert part['partData'] == {'part': index}
        assert part['partExecution'] == 'parallel'
        assert (part['type'], part['operation'], part['spaceId'], part['input']) == (
            'workbook',
            'export',
            'us_sp_1',
            {'q': 1},
        )


def test_split_with_part_data(api, executing):
    parent = executing()
    api('POST', f'/v1/jobs/{parent}/split', {'parts': [{'page': 1}, {'page': 2}], 'runInParallel': True})
    assert [part['partData'] for part in parts_of(api, parent)] == [{'page': 1}, {'page': 2}]


def test_sequential_parts_wait_for_the_one_before(api, executing, gates):
    parent = executing()
    api('POST', f'/v1/jobs/{parent}/split', {'parts': 3})
    first, second, third = parts_of(api, parent)
    assert [first['status'], second['status'], third['status']] == ['ready', 'waiting', 'waiting']
    assert second['waitingOn'] == [first['id']]
    # WHEN the first part completes and the gate keeper hears of it
    api('POST', f'/v1/jobs/{first["id"]}/complete')
    assert gates.predecessor_finished(TENANT, first['id'], 'complete') == [second['id']]
    # THEN only the next part is ready
    assert [part['status'] for part in parts_of(api, parent)] == ['complete', 'ready', 'waiting']
    # and hearing it twice changes nothing
    assert gates.predecessor_finished(TENANT, first['id'], 'complete') == []


def test_parent_counts_its_parts_in_the_same_write(api, executing):
    parent = executing()
    api('POST', f'/v1/jobs/{parent}/split', {'parts': 3, 'runInParallel': True})
    a, b, c = (part['id'] for part in parts_of(api, parent))
    api('POST', f'/v1/jobs/{a}/complete')
    api('POST', f'/v1/jobs/{b}/fail')
    counts = api('GET', f'/v1/jobs/{parent}').data
    assert (counts['partsCompleted'], counts['partsFailed'], counts['partsCanceled']) == (1, 1, 0)
    # a retried part leaves the failed count, and counts again when it finishes
    api('POST', f'/v1/jobs/{b}/retry')
    assert api('GET', f'/v1/jobs/{parent}').data['partsFailed'] == 0
    api('PATCH', f'/v1/jobs/{b}', {'status': 'complete'})
    api('POST', f'/v1/jobs/{c}/cancel')
    counts = api('GET', f'/v1/jobs/{parent}').data
    assert (counts['partsCompleted'], counts['partsFailed'], counts['partsCanceled']) == (2, 0, 1)
    # an illegal transition of a part is still a 409 that counts nothing
    assert api('POST', f'/v1/jobs/{a}/complete').status == 409
    assert api('GET', f'/v1/jobs/{parent}').data['partsCompleted'] == 2


def test_a_large_split_is_written_in_full(api, executing):
    parent = executing()
    reply = api('POST', f'/v1/jobs/{parent}/split', {'parts': 250, 'runInParallel': True})
    assert reply.data['partsTotal'] == 250
    total = api('GET', '/v1/jobs', query={'parentId': parent}).body['pagination']['totalCount']
    assert total == 250


def test_parts_are_hidden_from_top_level_lists(api, executing):
    parent = executing()
    api('POST', f'/v1/jobs/{parent}/split', {'parts': 2, 'runInParallel': True})
    top = api('GET', '/v1/jobs', query={'excludeChildJobs': 'true'}).data
    assert [job['id'] for job in top] == [parent]


@pytest.mark.parametrize(
    ('body', 'status'),
    [
        ({'parts': 0}, 400),
        ({'parts': 1001}, 400),
        ({'parts': []}, 400),
        ({'parts': 'three'}, 400),
        ({'parts': 2, 'extra': 1}, 400),
        ({}, 400),
    ],
)
def test_bad_splits(api, executing, body, status):
    parent = executing()
    assert api('POST', f'/v1/jobs/{parent}/split', body).status == status
    assert 'partsTotal' not in api('GET', f'/v1/jobs/{parent}').data


def test_only_an_executing_unsplit_top_level_job_splits(api, create_job, executing):
    created = create_job()['id']
    assert api('POST', f'/v1/jobs/{created}/split', {'parts': 2}).status == 409
    parent = executing()
    assert api('POST', f'/v1/jobs/{parent}/split', {'parts': 2}).status == 200
    assert api('POST', f'/v1/jobs/{parent}/split', {'parts': 2}).status == 409
    part = parts_of(api, parent)[0]['id']
    api('POST', f'/v1/jobs/{part}/ack')
    assert api('POST', f'/v1/jobs/{part}/split', {'parts': 2}).status == 409
    assert api('POST', '/v1/jobs/us_jb_unknown/split', {'parts': 2}).status == 404


# ---------------------------------------------------------------- predecessors
def test_waiting_job_goes_on_as_its_trigger_says_when_all_complete(api, create_job, gates):
    a, b = create_job(trigger='immediate')['id'], create_job(trigger='immediate')['id']
    waiting = create_job(trigger='immediate', predecessorIds=[a, b])
    assert (waiting['status'], sorted(waiting['waitingOn'])) == ('waiting', sorted([a, b]))

    api('POST', f'/v1/jobs/{a}/complete')
    gates.predecessor_finished(TENANT, a, 'complete')
    assert api('GET', f'/v1/jobs/{waiting["id"]}').data['waitingOn'] == [b]

    api('POST', f'/v1/jobs/{b}/complete')
    gates.predecessor_finished(TENANT, b, 'complete')
    released = api('GET', f'/v1/jobs/{waiting["id"]}').data
    assert released['status'] == 'ready'
    assert 'waitingOn' not in released


def test_a_manual_waiting_job_is_released_to_created(api, create_job, gates):
    a = create_job(trigger='immediate')['id']
    waiting = create_job(predecessorIds=[a])['id']
    api('POST', f'/v1/jobs/{a}/complete')
    gates.predecessor_finished(TENANT, a, 'complete')
    assert api('GET', f'/v1/jobs/{waiting}').data['status'] == 'created'


@pytest.mark.parametrize('how', ['fail', 'cancel'])
def test_a_failed_predecessor_fails_the_waiting_job_naming_it(api, create_job, gates, how):
    a = create_job(trigger='immediate')['id']
    waiting = create_job(trigger='immediate', predecessorIds=[a])['id']
    api('POST', f'/v1/jobs/{a}/{how}')
    status = api('GET', f'/v1/jobs/{a}').data['status']
    gates.predecessor_finished(TENANT, a, status)
    failed = api('GET', f'/v1/jobs/{waiting}').data
    assert failed['status'] == 'failed'
    assert a in failed['outcome']['message']
    assert failed['outcome']['acknowledge'] is True


def test_predecessors_already_complete_do_not_hold_a_job(api, create_job):
    a = create_job(trigger='immediate')['id']
    api('POST', f'/v1/jobs/{a}/complete')
    assert create_job(trigger='immediate', predecessorIds=[a])['status'] == 'ready'


def test_unknown_or_failed_predecessors_are_refused(api, create_job):
    reply = api('POST', '/v1/jobs', {'type': 'w', 'operation': 'o', 'source': 's', 'predecessorIds': ['us_jb_none']})
    assert (reply.status, reply.error_keys) == (400, ['predecessorIds'])
    failed = create_job()['id']
    api('POST', f'/v1/jobs/{failed}/fail')
    reply = api('POST', '/v1/jobs', {'type': 'w', 'operation': 'o', 'source': 's', 'predecessorIds': [failed]})
    assert (reply.status, reply.error_keys) == (409, ['predecessorIds'])
    assert api('GET', '/v1/jobs').body['pagination']['totalCount'] == 1


def test_a_canceled_waiting_job_is_not_released(api, create_job, gates):
    a = create_job(trigger='immediate')['id']
    waiting = create_job(trigger='immediate', predecessorIds=[a])['id']
    api('POST', f'/v1/jobs/{waiting}/cancel')
    api('POST', f'/v1/jobs/{a}/complete')
    assert gates.predecessor_finished(TENANT, a, 'complete') == []
    assert api('GET', f'/v1/jobs/{waiting}').data['status'] == 'canceled'


# ---------------------------------------------------------------- schedules
def test_a_scheduled_job_is_released_when_its_time_comes(api, create_job, gates):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    job = create_job(trigger='immediate', scheduledAt=later)
    assert job['status'] == 'scheduled'
    released = gates.release_scheduled(TENANT, job['id'])
    assert released is not None
    assert released.status == 'ready'
    assert gates.release_scheduled(TENANT, job['id']) is None


def test_a_past_schedule_does_not_hold_a_job(create_job):
    assert create_job(scheduledAt='2020-01-01T00:00:00Z')['status'] == 'created'


def test_schedule_and_predecessors_together_are_refused(api, create_job):
    a = create_job()['id']
    body = {'type': 'w', 'operation': 'o', 'source': 's', 'predecessorIds': [a], 'scheduledAt': '2099-01-01T00:00:00Z'}
    assert api('POST', '/v1/jobs', body).status == 400

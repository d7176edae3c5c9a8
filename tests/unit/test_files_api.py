"""Files through the API: direct uploads, presigned (single and multipart) uploads, downloads, limits."""

from urllib.parse import parse_qs, urlparse

import pytest

from jobs_core.models.file import DIRECT_UPLOAD_LIMIT, MiB
from jobs_core.object_store import file_key
from tests.builders import OTHER_TENANT, TENANT
from tests.unit.data_fixtures import BUCKET, data_api_fixture, multipart_body  # noqa: F401 - fixtures

CSV = b'name,email\r\nAnn,ann@example.com\r\n\xc3\x89mile,emile@example.com\r\n'


def object_bytes(data_api, file_id: str) -> bytes:
    return data_api.s3.get_object(Bucket=BUCKET, Key=file_key(TENANT.environment_id, file_id))['Body'].read()


def test_a_direct_upload_stores_the_bytes_and_is_complete(data_api):
    # GIVEN a space
    space = data_api.space()

    # WHEN a CSV is uploaded as a form
    reply = data_api.upload(CSV, space_id=space['id'])

    # THEN the file is complete, described, and its bytes are in the bucket as sent
    assert reply.status == 201, reply.body
    file = reply.data
    assert file['id'].startswith('us_fl_')
    assert {key: file[key] for key in ('name', 'ext', 'mimetype', 'encoding', 'status', 'mode', 'size')} == {
        'name': 'contacts.csv',
        'ext': 'csv',
        'mimetype': 'text/csv',
        'encoding': 'utf-8',
        'status': 'complete',
        'mode': 'import',
        'size': len(CSV),
    }
    assert (file['spaceId'], file['bytesReceived']) == (space['id'], len(CSV))
    assert object_bytes(data_api, file['id']) == CSV
    assert data_api.call('GET', f'/v1/files/{file["id"]}').data == file


def test_binary_bytes_survive_the_upload(data_api):
    space = data_api.space()
    content = bytes(range(256)) * 64
    reply = data_api.upload(content, space_id=space['id'], name='blob.bin', content_type='application/octet-stream')
    assert reply.status == 201, reply.body
    assert object_bytes(data_api, reply.data['id']) == content


def test_the_mimetype_is_guessed_from_the_name_and_a_path_is_dropped(data_api):
    space = data_api.space()
    reply = data_api.upload(
        b'{}', space_id=space['id'], name='C:\\exports\\data.json', content_type='application/octet-stream'
    )
    assert (reply.data['name'], reply.data['mimetype'], reply.data['ext']) == ('data.json', 'application/json', 'json')


def test_a_file_over_the_direct_limit_is_413_naming_the_presigned_route(data_api):
    space = data_api.space()
    reply = data_api.upload(b'x' * (DIRECT_UPLOAD_LIMIT + 1), space_id=space['id'])
    assert reply.status == 413
    assert 'POST /v1/files/uploads' in reply.body['errors'][0]['message']
    assert data_api.call('GET', '/v1/files').data == []


def test_a_body_far_over_the_limit_is_413_before_it_is_read(data_api):
    space = data_api.space()
    reply = data_api.upload(b'x' * (6 * MiB), space_id=space['id'])
    assert reply.status == 413
    assert 'POST /v1/files/uploads' in reply.body['errors'][0]['message']


@pytest.mark.parametrize(
    ('build', 'key'),
    [
        pytest.param(lambda space: multipart_body(CSV, space_id=None), 'spaceId', id='no spaceId'),
        pytest.param(lambda space: multipart_body(CSV, space_id=space, mode='sideways'), 'mode', id='bad mode'),
        pytest.param(lambda space: (b'not a form', 'x'), 'file', id='not a form'),
        pytest.param(
            lambda space: (
                b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\ntext\r\n'
                + f'--b\r\nContent-Disposition: form-data; name="spaceId"\r\n\r\n{space}\r\n--b--\r\n'.encode(),
                'b',
            ),
            'file',
            id='a text field, not a file',
        ),
    ],
)
def test_bad_forms_are_400(data_api, build, key):
    space = data_api.space()
    body, boundary = build(space['id'])
    if boundary is None:
        boundary = body.split(b'\r\n', 1)[0][2:].decode()
    reply = data_api.raw('POST', '/v1/files', body, f'multipart/form-data; boundary={boundary}')
    assert reply.status == 400, reply.body
    assert key in reply.error_keys


def test_a_json_body_on_the_upload_route_is_400(data_api):
    assert data_api.call('POST', '/v1/files', {'spaceId': 'us_sp_1'}).status == 400


def test_uploads_into_unknown_or_foreign_spaces_are_404(data_api):
    space = data_api.space()
    assert data_api.upload(CSV, space_id='us_sp_unknown').status == 404
    assert data_api.upload(CSV, space_id=space['id'], tenant=OTHER_TENANT).status == 404
    start = {'spaceId': space['id'], 'name': 'big.csv', 'size': 10}
    assert data_api.call('POST', '/v1/files/uploads', start, tenant=OTHER_TENANT).status == 404


# ---------------------------------------------------------------- presigned uploads
def test_a_presigned_upload_is_partial_until_its_bytes_are_in_storage(data_api):
    # GIVEN a file described for a presigned upload
    space = data_api.space()
    reply = data_api.call('POST', '/v1/files/uploads', {'spaceId': space['id'], 'name': 'big.csv', 'size': len(CSV)})
    assert reply.status == 201, reply.body
    file, upload = reply.data['file'], reply.data['upload']
    assert (file['status'], file['size'], file['bytesReceived'], file['mimetype']) == (
        'partial',
        len(CSV),
        0,
        'text/csv',
    )
    assert upload['method'] == 'PUT'
    assert upload['headers'] == {'Content-Type': 'text/csv'}
    assert upload['completeUrl'] == f'/v1/files/{file["id"]}/complete'
    url = urlparse(upload['url'])
    assert url.path.endswith(file_key(TENANT.environment_id, file['id']))
    assert 'X-Amz-Signature' in parse_qs(url.query)

    # WHEN it is completed before the bytes arrived, it stays partial
    early = data_api.call('POST', upload['completeUrl'])
    assert early.status == 409
    assert data_api.call('GET', f'/v1/files/{file["id"]}').data['status'] == 'partial'
    assert data_api.call('GET', f'/v1/files/{file["id"]}/download').status == 409

    # WHEN the bytes are PUT (as the presigned URL would) and it is completed
    data_api.s3.put_object(Bucket=BUCKET, Key=file_key(TENANT.environment_id, file['id']), Body=CSV)
    done = data_api.call('POST', upload['completeUrl'])

    # THEN it is complete with every byte received, and completing again changes nothing
    assert done.status == 200, done.body
    assert (done.data['status'], done.data['bytesReceived']) == ('complete', len(CSV))
    assert data_api.call('POST', upload['completeUrl']).data == done.data


def test_a_presigned_upload_of_another_size_than_declared_is_400(data_api):
    space = data_api.space()
    file = data_api.call('POST', '/v1/files/uploads', {'spaceId': space['id'], 'name': 'a.csv', 'size': 5}).data['file']
    data_api.s3.put_object(Bucket=BUCKET, Key=file_key(TENANT.environment_id, file['id']), Body=b'123')
    reply = data_api.call('POST', f'/v1/files/{file["id"]}/complete')
    assert reply.status == 400
    assert reply.error_keys == ['size']


def test_a_big_file_is_a_multipart_upload_completed_with_its_parts(data_api):
    # GIVEN a 200 MiB file described for upload
    space = data_api.space()
    size = 200 * MiB
    reply = data_api.call('POST', '/v1/files/uploads', {'spaceId': space['id'], 'name': 'huge.csv', 'size': size})
    file, upload = reply.data['file'], reply.data['upload']

    # THEN it is a multipart upload of 16 MiB parts, one presigned URL each
    assert upload['partSize'] == 16 * MiB
    assert [part['partNumber'] for part in upload['parts']] == list(range(1, 14))
    assert 'url' not in upload

    # WHEN completed without its parts, it is 400
    assert data_api.call('POST', upload['completeUrl']).error_keys == ['parts']

    # WHEN the parts are sent (here smaller than declared, to keep the test light) and completed
    key = file_key(TENANT.environment_id, file['id'])
    sent = [b'a' * (5 * MiB), b'tail']
    parts = []
    for number, content in enumerate(sent, start=1):
        answer = data_api.s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload['uploadId'], PartNumber=number, Body=content
        )
        parts.append({'partNumber': number, 'etag': answer['ETag']})
    reply = data_api.call('POST', upload['completeUrl'], {'parts': parts})

    # THEN the parts are assembled, and the size checked against what was declared
    assert reply.status == 400
    assert reply.error_keys == ['size']
    assert data_api.s3.head_object(Bucket=BUCKET, Key=key)['ContentLength'] == 5 * MiB + 4


def test_multipart_parts_storage_refuses_are_400(data_api):
    space = data_api.space()
    reply = data_api.call('POST', '/v1/files/uploads', {'spaceId': space['id'], 'name': 'h.csv', 'size': 200 * MiB})
    upload = reply.data['upload']
    wrong = data_api.call('POST', upload['completeUrl'], {'parts': [{'partNumber': 1, 'etag': 'nope'}]})
    assert wrong.status == 400
    assert wrong.error_keys == ['parts']


@pytest.mark.parametrize(
    ('body', 'key'),
    [
        ({'name': 'a.csv', 'size': 1}, 'spaceId'),
        ({'spaceId': 'us_sp_1', 'name': 'a.csv', 'size': 0}, 'size'),
        ({'spaceId': 'us_sp_1', 'name': 'a.csv', 'size': 60 * 1024**3}, 'size'),
        ({'spaceId': 'us_sp_1', 'name': 'a/b.csv', 'size': 1}, 'name'),
        ({'spaceId': 'us_sp_1', 'name': 'a.csv', 'size': 1, 'mode': 'both'}, 'mode'),
    ],
)
def test_bad_upload_descriptions_are_400(data_api, body, key):
    reply = data_api.call('POST', '/v1/files/uploads', body)
    assert reply.status == 400
    assert key in reply.error_keys


# ---------------------------------------------------------------- reads, downloads, deletes
def test_download_redirects_to_a_short_lived_presigned_url(data_api):
    space = data_api.space()
    file = data_api.upload(CSV, space_id=space['id']).data
    reply = data_api.call('GET', f'/v1/files/{file["id"]}/download')
    assert reply.status == 302
    location = urlparse(reply.headers['Location'])
    query = parse_qs(location.query)
    assert location.path.endswith(file_key(TENANT.environment_id, file['id']))
    assert query['X-Amz-Expires'] == ['300']
    assert 'filename="contacts.csv"' in query['response-content-disposition'][0]


def test_files_list_by_space_and_mode(data_api):
    first, second = data_api.space(), data_api.space()
    imported = data_api.upload(CSV, space_id=first['id']).data
    exported = data_api.upload(CSV, space_id=first['id'], mode='export').data
    elsewhere = data_api.upload(CSV, space_id=second['id']).data

    def listed(**query) -> list:
        return [file['id'] for file in data_api.call('GET', '/v1/files', query=query or None).data]

    assert listed(spaceId=first['id']) == [imported['id'], exported['id']]
    assert listed(spaceId=first['id'], mode='export') == [exported['id']]
    assert listed() == [imported['id'], exported['id'], elsewhere['id']]
    assert data_api.call('GET', '/v1/files', tenant=OTHER_TENANT).data == []


def test_delete_removes_the_file_and_its_bytes(data_api):
    space = data_api.space()
    file = data_api.upload(CSV, space_id=space['id']).data
    assert data_api.call('DELETE', f'/v1/files/{file["id"]}').body == {'data': {'success': True}}
    assert data_api.call('GET', f'/v1/files/{file["id"]}').status == 404
    assert data_api.s3.list_objects_v2(Bucket=BUCKET).get('KeyCount') == 0
    assert data_api.call('DELETE', f'/v1/files/{file["id"]}').status == 404


@pytest.mark.parametrize(
    ('method', 'suffix'), [('GET', ''), ('GET', '/download'), ('DELETE', ''), ('POST', '/complete')]
)
def test_unknown_and_foreign_files_are_404(data_api, method, suffix):
    space = data_api.space()
    file = data_api.upload(CSV, space_id=space['id']).data
    assert data_api.call(method, f'/v1/files/us_fl_unknown{suffix}').status == 404
    foreign = data_api.call(method, f'/v1/files/{file["id"]}{suffix}', tenant=OTHER_TENANT)
    assert foreign.status == 404
    assert foreign.error_keys == ['fileId']

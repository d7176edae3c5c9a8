"""Admin routes the local stack serves itself: development tooling, not part of the API or the template.

`POST /_local/keys` with `{"environment": "NAME"}` creates the environment if it is new and issues
an API key for it, answering `{"data": {"key", "keyId", "environmentId", "environment"}}` (201), or
400 in the API's error shape for a bad body or name. It needs no API key: the stack listens on
loopback only, and on AWS the same thing is `jobs keys create` with AWS credentials.
`jobs keys create --local` calls it.
"""

import json
from typing import TYPE_CHECKING, Final

from jobs_core.errors import BadRequest
from jobs_local.gateway import HttpRequest, HttpResponse, json_response

if TYPE_CHECKING:
    from jobs_core.keys import ApiKeyStore, IssuedKey

KEYS_PATH: Final = '/_local/keys'


def key_data(issued: 'IssuedKey') -> dict[str, str]:
    """An issued key as the route answers it (and `jobs keys create --json` prints it, on AWS too)."""
    return {
        'key': issued.secret,
        'keyId': issued.key_id,
        'environmentId': issued.environment.id,
        'environment': issued.environment.name,
    }


def _error(status: int, key: str, message: str) -> HttpResponse:
    return json_response(status, {'errors': [{'key': key, 'message': message}]})


class KeysRoute:
    """POST /_local/keys: issue a key for an environment (created if new)."""

    def __init__(self, store: 'ApiKeyStore') -> None:
        self._store = store

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != 'POST':
            return _error(405, 'method', f'{KEYS_PATH} accepts POST only')
        try:
            body = json.loads(request.body or b'null')
        except ValueError:
            return _error(400, 'body', 'The body is not valid JSON')
        if not isinstance(body, dict) or not isinstance(body.get('environment'), str) or set(body) != {'environment'}:
            return _error(400, 'body', 'The body must be {"environment": "<name>"}')
        try:
            issued = self._store.issue(body['environment'])
        except BadRequest as error:
            return _error(400, error.key, error.message)
        return json_response(201, {'data': key_data(issued)})

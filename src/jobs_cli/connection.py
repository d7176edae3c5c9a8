"""What every API command shares: the connection options, the client, and how failures read.

A failure is one line on stderr and exit status 1: the API's own message, or what went wrong
reaching it (refused key, unreachable URL, timeout), never a traceback. With `--json` the API's
error body is printed on stdout as well, for scripts.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from jobs_cli.config import ConfigError, Connection, resolve
from jobs_sdk.client import JobsClient
from jobs_sdk.errors import JobsApiError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ApiUrl = Annotated[
    str | None,
    typer.Option('--api-url', help='The Jobs API [default: $JOBS_API_URL, the profile, else http://127.0.0.1:3000]'),
]
ApiKey = Annotated[
    str | None,
    typer.Option('--api-key', help='An API key [default: $JOBS_API_KEY, else the profile]', show_default=False),
]
ProfileName = Annotated[
    str | None,
    typer.Option('--profile', help='A profile saved by `jobs configure` [default: $JOBS_PROFILE, else default]'),
]
AsJson = Annotated[bool, typer.Option('--json', help="Print the API's JSON instead of a readable view")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f'[red]error:[/red] {escape(message)}')
    raise typer.Exit(code)


def print_json(payload: Any, *, compact: bool = False) -> None:
    typer.echo(json.dumps(payload, separators=(',', ':')) if compact else json.dumps(payload, indent=2))


def data_json(model: Any) -> dict[str, Any]:
    """`{"data": …}` of a response model, as the API sent it."""
    return {'data': model.model_dump(mode='json')}


def describe_api_error(error: JobsApiError, connection: Connection) -> str:
    if error.status == 401:
        return f'{connection.api_url} refused the API key from {connection.source} (401): {error}'
    if error.status == 403:
        return f'{connection.api_url} does not let this API key do that (403): {error}'
    return f'{error} (HTTP {error.status})'


def describe_transport_error(error: httpx.HTTPError, connection: Connection) -> str:
    if isinstance(error, httpx.ConnectError):
        hint = (
            '; is `jobs dev` running?' if '127.0.0.1' in connection.api_url or 'localhost' in connection.api_url else ''
        )
        return f'cannot reach the Jobs API at {connection.api_url} (connection failed){hint}'
    if isinstance(error, httpx.TimeoutException):
        return f'the Jobs API at {connection.api_url} did not answer in time ({error.__class__.__name__})'
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f'{connection.api_url} is not a usable URL: {error}'
    return f'talking to the Jobs API at {connection.api_url} failed: {error.__class__.__name__}: {error}'


@contextmanager
def api(api_url: str | None, api_key: str | None, profile: str | None, as_json: bool = False) -> Iterator[JobsClient]:
    """A client for the resolved connection; API and transport failures become one-line errors."""
    try:
        connection = resolve(api_url, api_key, profile)
    except ConfigError as error:
        fail(str(error))
    # The SDK logs each retry; the command's own error line says what finally happened.
    sdk_log = logging.getLogger('jobs_sdk')
    sdk_log.addHandler(logging.NullHandler())
    sdk_log.propagate = False
    try:
        with JobsClient(connection.api_url, connection.api_key) as client:
            yield client
    except JobsApiError as error:
        if as_json:
            print_json({'errors': [item.model_dump(exclude_none=True) for item in error.errors]})
        fail(describe_api_error(error, connection))
    except httpx.HTTPError as error:
        fail(describe_transport_error(error, connection))
    except OSError as error:
        fail(str(error))

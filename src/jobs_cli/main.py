"""The `jobs` command: `jobs dev` runs the local stack; `jobs listen` runs listener files against the
Events API; `jobs keys create` issues an API key. The API's own commands (`jobs list`, `jobs watch`,
`jobs events tail`, `jobs upload`, …) live in jobs_commands, watch, events_commands and files_commands.

Every failure is one line on stderr and a non-zero exit code, never a traceback.
"""

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from jobs_cli import events_commands, files_commands, jobs_commands, plan_commands, watch

app = typer.Typer(
    help='Jobs: a Flatfile-compatible job lifecycle service.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold API keys
)
# The API's commands, first in the help: jobs, watch, events, files (each module registers its own).
for module in (jobs_commands, plan_commands, watch, events_commands, files_commands):
    module.register(app)
jobs_commands.register_setup(app)
keys_app = typer.Typer(help='API keys.', no_args_is_help=True)
app.add_typer(keys_app, name='keys', rich_help_panel='Setup')

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_LOCAL_URL = 'http://127.0.0.1:3000'
DEFAULT_STACK_NAME = 'jobs'


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f'[red]error:[/red] {escape(message)}', markup=True)  # the message is text, never markup
    raise typer.Exit(code)


# ---------------------------------------------------------------- jobs dev
@app.command(rich_help_panel='Local stack')
def dev(
    port: Annotated[
        int, typer.Option(envvar='PORT', min=0, max=65535, help='Port on 127.0.0.1 (0 picks a free one)')
    ] = 3000,
    listener: Annotated[
        list[Path] | None,
        typer.Option(
            '--listener',
            help='A Python file whose listeners (objects with event_patterns() and lambda_handler) get the '
            "bus's events, as an EventBridge rule's Lambda target would; repeatable",
        ),
    ] = None,
) -> None:
    """Run the local stack in the foreground: the API on http://127.0.0.1:PORT, backed by moto. Ctrl-C stops it."""
    try:
        from jobs_local.listeners import subscribe_listeners  # noqa: PLC0415 - keep `jobs keys` light
        from jobs_local.stack import LocalStack, StackError, StackInfo  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        fail(f"jobs dev needs {missing.name}: install the local extra, pip install -e '.[local]'")

    stack = LocalStack(port=port, api_key=os.environ.get('JOBS_API_KEY') or None)
    subscribed: list[str] = []

    def prepare(info: StackInfo) -> None:
        # A listener's client finds the stack the way `jobs listen` is pointed at one.
        os.environ.update(JOBS_API_URL=info.url, JOBS_API_KEY=info.api_key)
        subscribed.extend(subscribe_listeners(stack, listener or []))

    def ready(info: StackInfo) -> None:
        out.print(f'[bold green]Jobs local stack ready[/] on [bold]{info.url}[/]  (Ctrl-C stops it)')
        out.print(f'API key ([bold]{info.environment}[/] environment): [bold]{info.api_key}[/]')
        out.print(f'Try: curl -H "Authorization: Bearer {info.api_key}" {info.url}/v1/jobs', markup=False)
        out.print(f'Docs: {info.url}/v1/docs   More keys: jobs keys create --local --environment NAME', markup=False)
        out.print(f'AWS (moto) endpoint: {info.moto_endpoint}   Event bus: {info.bus}', markup=False)
        if subscribed:
            out.print(f'Listeners: {", ".join(subscribed)}', markup=False)
        out.file.flush()  # the key at once, also when stdout is a pipe or a file

    try:
        stack.run(ready, prepare=prepare)
    except StackError as error:
        fail(str(error))


# ---------------------------------------------------------------- jobs listen
@app.command(rich_help_panel='Listeners')
def listen(
    files: Annotated[
        list[Path], typer.Argument(help='Python files with listeners, e.g. listener = jobs_sdk.Listener()')
    ],
    *,
    since: Annotated[
        str | None, typer.Option(help='Start from this ISO-8601 time, e.g. 2030-01-01T12:00:00Z [default: now]')
    ] = None,
    poll_interval: Annotated[float, typer.Option(min=0.05, help='Seconds between polls of the Events API')] = 1.0,
    api_url: Annotated[str, typer.Option(envvar='JOBS_API_URL', help='The Jobs API')] = DEFAULT_LOCAL_URL,
    api_key: Annotated[
        str | None, typer.Option(envvar='JOBS_API_KEY', help='An API key of the environment to follow')
    ] = None,
    max_attempts: Annotated[int, typer.Option(min=1, help='Deliveries of an event to a handler that raises')] = 3,
    overlap: Annotated[float, typer.Option(min=0, help='Seconds each poll looks back for events stored late')] = 5.0,
) -> None:
    """Run listener files: follow the Events API and hand each new event to their handlers once. Ctrl-C stops."""
    from jobs_cli.listen import ListenError, run  # noqa: PLC0415 - keep the other commands light

    try:
        run(
            files,
            api_url=api_url,
            api_key=api_key,
            since=since,
            poll_interval=poll_interval,
            max_attempts=max_attempts,
            overlap=overlap,
            announce=lambda line: out.print(line, markup=False),
        )
    except ListenError as error:
        fail(str(error))
    out.print('Stopped.', markup=False)


# ---------------------------------------------------------------- jobs keys create
def _create_local(environment: str, api_url: str) -> dict[str, Any]:
    import httpx  # noqa: PLC0415

    url = api_url.rstrip('/') + '/_local/keys'
    try:
        response = httpx.post(url, json={'environment': environment}, timeout=30)
    except httpx.HTTPError as error:
        fail(f'cannot reach the local stack at {api_url} ({error.__class__.__name__}); is `jobs dev` running?')
    try:
        payload = response.json()
    except ValueError:
        fail(f'{url} answered {response.status_code} without JSON; is it a Jobs local stack?')
    if response.is_error or not isinstance(payload, dict) or 'data' not in payload:
        errors = payload.get('errors') if isinstance(payload, dict) else None
        message = errors[0].get('message') if isinstance(errors, list) and errors else f'HTTP {response.status_code}'
        fail(f'the local stack refused: {message}')
    return dict(payload['data'])


def _create_on_aws(environment: str, stack_name: str) -> dict[str, Any]:
    import boto3  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from jobs_core.errors import JobsError  # noqa: PLC0415
    from jobs_core.keys import ApiKeyStore  # noqa: PLC0415

    try:
        stacks = boto3.client('cloudformation').describe_stacks(StackName=stack_name)['Stacks']
        outputs = {output['OutputKey']: output['OutputValue'] for output in stacks[0].get('Outputs', [])}
        if 'TableName' not in outputs:
            fail(f'stack {stack_name} has no TableName output; is it a Jobs stack?')
        issued = ApiKeyStore(outputs['TableName']).issue(environment)
        # The shape of the local stack's POST /_local/keys data, so --json reads the same either way.
        return {
            'key': issued.secret,
            'keyId': issued.key_id,
            'environmentId': issued.environment.id,
            'environment': issued.environment.name,
        }
    except ClientError as error:
        detail = error.response.get('Error', {})
        fail(f'AWS refused ({detail.get("Code", "error")}): {detail.get("Message", error)}')
    except BotoCoreError as error:
        fail(f'cannot talk to AWS: {error}')
    except JobsError as error:
        fail(error.message)


@keys_app.command('create')
def create_key(
    environment: Annotated[str, typer.Option('--environment', '-e', help='Environment name; created if new')],
    local: Annotated[bool, typer.Option('--local', help='Use the running local stack (`jobs dev`)')] = False,
    api_url: Annotated[
        str, typer.Option(envvar='JOBS_API_URL', help='The local stack, with --local')
    ] = DEFAULT_LOCAL_URL,
    stack_name: Annotated[
        str | None, typer.Option(help='The deployed stack [default: $AWS_SAM_STACK_NAME, else jobs]')
    ] = None,
    as_json: Annotated[
        bool, typer.Option('--json', help='Print key, keyId, environmentId and environment as JSON')
    ] = False,
) -> None:
    """Create an API key for an environment (created if new) and print it. The key is shown only once."""
    from jobs_core.keys import ENVIRONMENT_NAME  # noqa: PLC0415

    if not ENVIRONMENT_NAME.match(environment):
        fail('an environment name is 1-63 characters of a-z, 0-9, - and _, starting with a letter or digit')
    if local:
        data = _create_local(environment, api_url)
    else:
        data = _create_on_aws(environment, stack_name or os.environ.get('AWS_SAM_STACK_NAME') or DEFAULT_STACK_NAME)
    # Machine-readable on stdout (`KEY=$(jobs keys create …)`), the description on stderr.
    typer.echo(json.dumps(data) if as_json else data['key'])
    if not as_json:
        err.print(f'API key {data["keyId"]} for environment {data["environment"]} ({data["environmentId"]})')

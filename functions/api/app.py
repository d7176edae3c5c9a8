"""The Jobs REST API: one Powertools resolver, errors mapped to HTTP in one place."""

import json
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

import console_routes
import event_routes
import file_routes
import job_routes
import plan_routes
import record_routes
import sheet_routes
import snapshot_routes
import space_routes
import workbook_routes
from jobs_core import errors
from jobs_core.models.api import ErrorItem, Errors, Health
from jobs_core.models.file import DIRECT_UPLOAD_LIMIT, PRESIGNED_ROUTE
from jobs_core.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

API_TITLE: Final = 'Jobs API'
API_VERSION: Final = '1.0.0'
MAX_BODY_BYTES: Final = 1024 * 1024
# A direct upload's form: the file and a few small fields around it.
MAX_UPLOAD_BODY_BYTES: Final = DIRECT_UPLOAD_LIMIT + 64 * 1024
UPLOAD_PATH: Final = '/v1/files'

app = APIGatewayRestResolver(enable_validation=True)
for router in (
    job_routes.router,
    plan_routes.router,
    event_routes.router,
    space_routes.router,
    file_routes.router,
    workbook_routes.router,
    sheet_routes.router,
    record_routes.router,
    snapshot_routes.router,
    console_routes.router,
):
    app.include_router(router)


# The docs are built on their first request rather than with app.enable_swagger(), which loads
# Powertools' OpenAPI models at import: ~38 ms of every cold start, for pages rarely read.
@cache
def openapi_document() -> str:
    """The OpenAPI 3.1 document, exactly as served and as committed in openapi.json."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    return app.get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        description='A Flatfile-compatible Jobs API. Authenticate with `Authorization: Bearer <api key>`.',
        security_schemes={'apiKey': HTTPBearer(description='An API key, e.g. sk_…')},
        security=[{'apiKey': []}],
    )


@cache
def swagger_page() -> str:
    """Swagger UI with its script and styles inlined from the Powertools package: works offline."""
    import aws_lambda_powertools.event_handler as handler_package  # noqa: PLC0415
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html  # noqa: PLC0415

    bundle = Path(handler_package.__file__).parent / 'openapi' / 'swagger_ui'
    return generate_swagger_html(
        openapi_document().replace('</', '<\\/'),
        (bundle / 'swagger-ui-bundle.min.js').read_text(encoding='utf-8'),
        (bundle / 'swagger-ui.min.css').read_text(encoding='utf-8'),
        '',  # no base URL: the script and styles above are inlined
        None,
        False,
    )


@app.get('/v1/docs', include_in_schema=False)
def docs() -> Response[str]:
    return Response(status_code=200, content_type='text/html', body=swagger_page())


@app.get('/health', include_in_schema=False)
def health() -> Health:
    return Health(status='ok')


@app.get('/v1/openapi.json', include_in_schema=False)
def openapi() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())


# ---------------------------------------------------------------- errors
def problem(status: HTTPStatus, items: list[ErrorItem], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=Errors(errors=items).model_dump_json(exclude_none=True),
        headers=headers,
    )


_STATUS: Final[dict[type[errors.JobsError], HTTPStatus]] = {
    errors.BadRequest: HTTPStatus.BAD_REQUEST,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.ServiceUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


@app.exception_handler(errors.JobsError)
def domain_error(error: errors.JobsError) -> Response[str]:
    headers = None
    if isinstance(error, errors.ServiceUnavailable):
        headers = {'Retry-After': str(error.retry_after)}
    return problem(_STATUS[type(error)], [ErrorItem(key=error.key, message=error.message)], headers)


def _describe(error: Any) -> ErrorItem:
    location = [str(part) for part in error.get('loc', ()) if part not in {'body', 'query', 'path'}]
    key = '.'.join(location) or 'body'
    match error.get('type'):
        case 'json_invalid':
            return ErrorItem(key='body', message='The body is not valid JSON')
        case 'extra_forbidden':
            return ErrorItem(key=key, message=f'Unknown field: {key}')
        case 'missing' if key == 'body':
            return ErrorItem(key='body', message='A JSON body is required')
        case _:
            return ErrorItem(key=key, message=f'{key}: {error.get("msg", "is not valid")}')


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[str]:
    # 400 in the API's {"errors": [...]} shape, not Powertools' default 422.
    return problem(HTTPStatus.BAD_REQUEST, [_describe(item) for item in error.errors()])


@app.not_found
def not_found(_: Exception) -> Response[str]:
    path = app.current_event.path
    return problem(HTTPStatus.NOT_FOUND, [ErrorItem(key='path', message=f'No route for {path}')])


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    logger.exception('Unhandled error', error_type=type(error).__name__)
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR, [ErrorItem(key='server', message='Internal error; it has been logged')]
    )


def as_json(event: dict[str, Any]) -> dict[str, Any]:
    """Every body of this API is JSON. `curl -d` labels it a form, which Powertools would parse as
    one; read such a body (or an unlabelled one) as the JSON it is."""
    headers = event.get('headers') or {}
    label = next((name for name in headers if name.lower() == 'content-type'), None)
    if event.get('body') and (label is None or headers[label].startswith('application/x-www-form-urlencoded')):
        event['headers'] = {**{k: v for k, v in headers.items() if k != label}, 'Content-Type': 'application/json'}
        multi = {k: v for k, v in (event.get('multiValueHeaders') or {}).items() if k.lower() != 'content-type'}
        event['multiValueHeaders'] = {**multi, 'Content-Type': ['application/json']}
    return event


def too_large(event: dict[str, Any]) -> dict[str, Any] | None:
    """API Gateway accepts 10 MB; the API takes 1 MB (a direct upload a little over its file limit),
    answered before any parsing."""
    body = event.get('body') or ''
    size = len(body) * 3 // 4 if event.get('isBase64Encoded') else len(body.encode())
    upload = event.get('httpMethod') == 'POST' and event.get('path') == UPLOAD_PATH
    limit = MAX_UPLOAD_BODY_BYTES if upload else MAX_BODY_BYTES
    if size <= limit:
        return None
    message = f'The body is {size} bytes; the limit is {limit} bytes'
    if upload:
        message = (
            f'The upload is {size:,} bytes; a direct upload takes files of at most {DIRECT_UPLOAD_LIMIT:,} bytes. '
            f'Use {PRESIGNED_ROUTE} for a presigned upload to storage.'
        )
    return {
        'statusCode': HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        'headers': {'Content-Type': content_types.APPLICATION_JSON},
        'body': json.dumps({'errors': [{'key': 'body', 'message': message}]}),
        'isBase64Encoded': False,
    }


@logger.inject_lambda_context(correlation_id_path='requestContext.requestId')
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: 'LambdaContext') -> dict[str, Any]:
    return too_large(event) or app.resolve(as_json(event), context)

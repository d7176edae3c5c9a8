"""A local API Gateway (REST API, v1 proxy integration) in front of the template's functions.

It does what API Gateway does for our API, from template.yaml: routes by the Api events (explicit
paths before greedy ones), runs the REQUEST Lambda authorizer on authorized routes and caches its
policy per identity for ReauthorizeEvery seconds, builds the proxy event API Gateway sends, maps
the Lambda proxy result back to HTTP, and answers its own errors (401, 403, 413, 502…) with the
template's GatewayResponses. Serving is loopback only: this is development tooling.
"""

import base64
import binascii
import copy
import json
import logging
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from jobs_local.binary_media import binary_media_types, is_binary
from jobs_local.runtime import ACCOUNT_ID, REGION, LocalFunction
from jobs_local.template import ApiRoute, AuthorizerSpec, GatewayResponseSpec

MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024  # API Gateway's payload limit
_DRAIN_LIMIT: Final = 64 * 1024 * 1024  # read (and drop) an oversized body up to this, so the client sees the 413
API_ID: Final = 'local'

# API Gateway's default status and message for each error response type it answers itself.
_ERROR_DEFAULTS: Final[dict[str, tuple[int, str]]] = {
    'UNAUTHORIZED': (401, 'Unauthorized'),
    'ACCESS_DENIED': (403, 'User is not authorized to access this resource with an explicit deny'),
    'MISSING_AUTHENTICATION_TOKEN': (403, 'Missing Authentication Token'),
    'REQUEST_TOO_LARGE': (413, 'Request Too Long'),
    'AUTHORIZER_FAILURE': (500, 'Internal server error'),
    'AUTHORIZER_CONFIGURATION_ERROR': (500, 'Internal server error'),
    'BAD_REQUEST_BODY': (400, 'Invalid request body'),
    'DEFAULT_5XX': (502, 'Internal server error'),  # a crashed or malformed Lambda proxy integration
}
# Headers API Gateway owns on a response; a Lambda's own values would corrupt the framing.
_HOP_BY_HOP: Final = frozenset({'content-length', 'transfer-encoding', 'connection', 'keep-alive'})

# $context.x.y or ${context.x.y} in a gateway response template
_VARIABLE: Final = re.compile(r'\$(?:\{(context(?:\.\w+)+)\}|(context(?:\.\w+)+))')

access_log = logging.getLogger('jobs_local.access')
log = logging.getLogger('jobs_local.gateway')


@dataclass
class HttpRequest:
    method: str
    target: str  # the request target: path and query, as sent
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = '127.0.0.1'
    server_port: int = 0

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in reversed(self.headers) if key.lower() == wanted), None)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b''


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=[('Content-Type', 'application/json'), *(headers or [])],
        body=json.dumps(payload).encode(),
    )


# A route the local stack serves itself (dev tooling, not part of the template).
LocalRoute = Callable[[HttpRequest], HttpResponse]


class _MalformedResponse(Exception):
    """The Lambda result is not a valid proxy response."""


class _Rejected(Exception):
    """API Gateway answers the request itself, with the gateway response of type `kind`."""

    def __init__(self, kind: str, message: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class _CachedPolicy:
    expires: float
    principal_id: str
    policy: dict[str, Any]
    context: dict[str, str]


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Values grouped by name; a repeated name keeps the spelling it was first sent with."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name)
        grouped.setdefault(key, []).append(value)
    return grouped


def _arn_pattern(resource: str) -> re.Pattern[str]:
    return re.compile('.*'.join(re.escape(part) for part in resource.split('*')).replace(r'\?', '.'))


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM-style evaluation of an authorizer policy for execute-api:Invoke on `method_arn`: an
    explicit Deny wins, otherwise an Allow is required."""
    allowed = False
    statements = policy.get('Statement', [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get('Action', [])
        resources = statement.get('Resource', [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(action in {'*', 'execute-api:*', 'execute-api:Invoke'} for action in actions):
            continue
        if not any(_arn_pattern(resource).fullmatch(method_arn) for resource in resources):
            continue
        if statement.get('Effect') == 'Deny':
            return False
        allowed = allowed or statement.get('Effect') == 'Allow'
    return allowed


class ApiGateway:
    """Turns one HTTP request into at most one authorizer and one function invocation, like API Gateway."""

    def __init__(
        self,
        *,
        routes: list[ApiRoute],
        functions: dict[str, LocalFunction],
        authorizer: AuthorizerSpec | None,
        responses: dict[str, GatewayResponseSpec],
        stage: str,
        local_routes: dict[str, LocalRoute] | None = None,
        binary_types: tuple[str, ...] | None = None,
    ) -> None:
        self._routes = routes
        # Bodies of these types reach the function base64-encoded (template.yaml's BinaryMediaTypes).
        self._binary_types = binary_media_types() if binary_types is None else binary_types
        self._functions = functions
        self._authorizer = authorizer
        self._responses = responses
        self._stage = stage
        self._local_routes = local_routes or {}
        self._cache: dict[tuple[str, ...], _CachedPolicy] = {}
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------ the request
    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        raw_path, _, raw_query = request.target.partition('?')
        path = unquote(raw_path) or '/'
        try:
            if path in self._local_routes:
                return self._local_routes[path](request)
            if len(request.body) > MAX_REQUEST_BYTES:
                raise _Rejected('REQUEST_TOO_LARGE')
            route, path_parameters = self._route(request.method, path)
            event = self._proxy_event(
                request,
                route=route,
                path=path,
                raw_query=raw_query,
                path_parameters=path_parameters,
                request_id=request_id,
            )
            if route.authorized:
                event['requestContext']['authorizer'] = self._authorize(event)
            try:
                result = self._functions[route.function].invoke(event)
            except Exception:
                log.exception('%s failed (Unhandled): API Gateway answers 502', route.function)
                raise _Rejected('DEFAULT_5XX') from None
            return self._from_proxy_result(result, request_id)
        except _Rejected as rejected:
            return self.error_response(rejected.kind, request_id, rejected.message)

    def _route(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str] | None]:
        for route in self._routes:
            parameters = route.matches(method, path)
            if parameters is not None:
                return route, parameters or None
        # API Gateway's answer for a path or method it has no resource for.
        raise _Rejected('MISSING_AUTHENTICATION_TOKEN')

    # ------------------------------------------------------------ events
    def _request_context(
        self, request: HttpRequest, resource: str, path: str, request_id: str, host: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            'resourceId': 'local',
            'resourcePath': resource,
            'httpMethod': request.method,
            'extendedRequestId': request_id,
            'requestTime': now.strftime('%d/%b/%Y:%H:%M:%S +0000'),
            'path': f'/{self._stage}{path}',
            'accountId': ACCOUNT_ID,
            'protocol': 'HTTP/1.1',
            'stage': self._stage,
            'domainPrefix': host.split('.', maxsplit=1)[0],
            'requestTimeEpoch': int(now.timestamp() * 1000),
            'requestId': request_id,
            'identity': {
                'cognitoIdentityPoolId': None,
                'accountId': None,
                'cognitoIdentityId': None,
                'caller': None,
                'sourceIp': request.source_ip,
                'principalOrgId': None,
                'accessKey': None,
                'cognitoAuthenticationType': None,
                'cognitoAuthenticationProvider': None,
                'userArn': None,
                'userAgent': request.header('User-Agent'),
                'user': None,
            },
            'domainName': host,
            'apiId': API_ID,
        }

    def _proxy_event(
        self,
        request: HttpRequest,
        *,
        route: ApiRoute,
        path: str,
        raw_query: str,
        path_parameters: dict[str, str] | None,
        request_id: str,
    ) -> dict[str, Any]:
        headers = list(request.headers)
        names = {name.lower() for name, _ in headers}
        forwarded_for = request.header('X-Forwarded-For')
        headers = [(name, value) for name, value in headers if name.lower() != 'x-forwarded-for']
        headers.append(
            ('X-Forwarded-For', f'{forwarded_for}, {request.source_ip}' if forwarded_for else request.source_ip)
        )
        added = {
            'X-Forwarded-Port': str(request.server_port),
            'X-Forwarded-Proto': 'http',
            'X-Amzn-Trace-Id': f'Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}',
        }
        headers += [(name, value) for name, value in added.items() if name.lower() not in names]
        multi_headers = _multi(headers)
        query = parse_qsl(raw_query, keep_blank_values=True)
        multi_query = _multi(query) if query else None
        host = request.header('Host') or f'127.0.0.1:{request.server_port}'
        encoded = bool(request.body) and is_binary(request.header('Content-Type'), self._binary_types)
        if encoded:
            body: str | None = base64.b64encode(request.body).decode()
        elif request.body:
            body = request.body.decode('utf-8', errors='replace')
        else:
            body = None
        return {
            'resource': route.path,
            'path': path,
            'httpMethod': request.method,
            'headers': {name: values[-1] for name, values in multi_headers.items()},
            'multiValueHeaders': multi_headers,
            'queryStringParameters': {name: values[-1] for name, values in (multi_query or {}).items()} or None,
            'multiValueQueryStringParameters': multi_query,
            'pathParameters': path_parameters,
            'stageVariables': None,
            'requestContext': self._request_context(request, route.path, path, request_id, host),
            'body': body,
            'isBase64Encoded': encoded,
        }

    def _method_arn(self, event: dict[str, Any]) -> str:
        return f'arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{self._stage}/{event["httpMethod"]}{event["path"]}'

    # ------------------------------------------------------------ the authorizer
    def _authorize(self, event: dict[str, Any]) -> dict[str, Any]:
        """The requestContext.authorizer of an allowed request; raises _Rejected otherwise."""
        spec = self._authorizer
        if spec is None:
            raise _Rejected('AUTHORIZER_CONFIGURATION_ERROR', 'The route needs an authorizer the API does not define')
        lowered = {name.lower(): value for name, value in event['headers'].items()}
        identity = tuple(lowered.get(name.lower(), '') for name in spec.identity_headers)
        if not all(identity):
            # A missing identity source: API Gateway answers 401 without calling the authorizer.
            raise _Rejected('UNAUTHORIZED')
        method_arn = self._method_arn(event)
        started = time.perf_counter()
        cached = self._cached(identity)
        if cached is None:
            cached = self._invoke_authorizer(spec, event, method_arn)
            if spec.ttl_seconds > 0:
                with self._cache_lock:
                    self._cache[identity] = cached
        if not policy_allows(cached.policy, method_arn):
            raise _Rejected('ACCESS_DENIED')
        latency = int((time.perf_counter() - started) * 1000)
        return {**cached.context, 'principalId': cached.principal_id, 'integrationLatency': latency}

    def _cached(self, identity: tuple[str, ...]) -> _CachedPolicy | None:
        with self._cache_lock:
            cached = self._cache.get(identity)
            if cached is not None and cached.expires <= time.monotonic():
                del self._cache[identity]
                return None
            return cached

    def _invoke_authorizer(self, spec: AuthorizerSpec, event: dict[str, Any], method_arn: str) -> _CachedPolicy:
        request = {
            'type': spec.payload_type,
            'methodArn': method_arn,
            **{
                name: copy.deepcopy(event[name])
                for name in (
                    'resource',
                    'path',
                    'httpMethod',
                    'headers',
                    'multiValueHeaders',
                    'queryStringParameters',
                    'multiValueQueryStringParameters',
                    'pathParameters',
                    'stageVariables',
                    'requestContext',
                )
            },
        }
        try:
            result = self._functions[spec.function].invoke(request)
        except Exception as error:
            if str(error) == 'Unauthorized':
                raise _Rejected('UNAUTHORIZED') from None
            log.exception('%s failed: API Gateway answers 500 (AUTHORIZER_FAILURE)', spec.function)
            raise _Rejected('AUTHORIZER_FAILURE') from None
        try:
            principal_id = result['principalId']
            policy = result['policyDocument']
            context = result.get('context') or {}
            if not isinstance(principal_id, str) or not isinstance(policy, dict) or not isinstance(context, dict):
                raise TypeError('principalId, policyDocument or context has the wrong type')
            if any(isinstance(value, dict | list) for value in context.values()):
                raise TypeError('context values must be strings, numbers or booleans')
        except (KeyError, TypeError) as error:
            log.error('%s returned an invalid policy (%s): API Gateway answers 500', spec.function, error)
            raise _Rejected('AUTHORIZER_CONFIGURATION_ERROR') from None
        # API Gateway hands the context on with every value as a string.
        plain = {
            key: ('true' if value else 'false') if isinstance(value, bool) else str(value)
            for key, value in context.items()
            if value is not None
        }
        return _CachedPolicy(time.monotonic() + spec.ttl_seconds, principal_id, policy, plain)

    # ------------------------------------------------------------ responses
    def _from_proxy_result(self, result: Any, request_id: str) -> HttpResponse:
        try:
            return self._proxy_response(result, request_id)
        except _MalformedResponse as malformed:
            log.error('Malformed Lambda proxy response (%s): API Gateway answers 502', malformed)
            return self.error_response('DEFAULT_5XX', request_id)

    def _proxy_response(self, result: Any, request_id: str) -> HttpResponse:
        if not isinstance(result, dict) or 'statusCode' not in result:
            raise _MalformedResponse('a dict with statusCode is required')
        try:
            status = int(result['statusCode'])
        except (TypeError, ValueError) as error:
            raise _MalformedResponse('statusCode is not a number') from error
        if not 100 <= status <= 599:
            raise _MalformedResponse(f'statusCode {status} is not an HTTP status')
        multi = result.get('multiValueHeaders') or {}
        single = result.get('headers') or {}
        if not isinstance(multi, dict) or not isinstance(single, dict):
            raise _MalformedResponse('headers and multiValueHeaders must be objects')
        headers = [(str(name), str(value)) for name, values in multi.items() for value in values]
        multi_names = {str(name).lower() for name in multi}
        headers += [(str(name), str(value)) for name, value in single.items() if str(name).lower() not in multi_names]
        headers = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
        if not any(name.lower() == 'content-type' for name, _ in headers):
            headers.append(('Content-Type', 'application/json'))
        headers.append(('x-amzn-RequestId', request_id))
        body = result.get('body')
        if body is None:
            payload = b''
        elif not isinstance(body, str):
            raise _MalformedResponse('body must be a string')
        elif result.get('isBase64Encoded'):
            try:
                payload = base64.b64decode(body, validate=True)
            except binascii.Error as error:
                raise _MalformedResponse('body is not valid base64') from error
        else:
            payload = body.encode()
        return HttpResponse(status=status, headers=headers, body=payload)

    def error_response(self, kind: str, request_id: str | None = None, message: str | None = None) -> HttpResponse:
        """A gateway response of type `kind`, customised by the template as API Gateway would."""
        request_id = request_id or str(uuid.uuid4())
        status, default_message = _ERROR_DEFAULTS.get(kind, (500, 'Internal server error'))
        message = message or default_message
        spec = self._responses.get(kind) or self._responses.get('DEFAULT_4XX' if status < 500 else 'DEFAULT_5XX')
        template = spec.template if spec and spec.template else '{"message": $context.error.messageString}'
        variables = {
            'context.error.messageString': json.dumps(message),
            'context.error.message': message,
            'context.error.responseType': kind,
            'context.requestId': request_id,
            'context.stage': self._stage,
        }
        body = _VARIABLE.sub(lambda found: variables.get(found[1] or found[2], ''), template)
        headers = [('Content-Type', 'application/json'), ('x-amzn-RequestId', request_id), ('x-amzn-ErrorType', kind)]
        headers += list(spec.headers.items()) if spec else []
        if spec and spec.status:
            status = spec.status
        return HttpResponse(status=status, headers=headers, body=body.encode())


# ---------------------------------------------------------------- HTTP
class _TooLarge(Exception):
    """The request body is over API Gateway's limit."""


class GatewayServer(ThreadingHTTPServer):
    """A threaded HTTP server whose requests go to an ApiGateway (set `gateway` before serving)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        self.gateway: ApiGateway | None = None
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (it gave up waiting, say): there is no one to answer
        log.exception('Request from %s failed', client_address[0])

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup of the host; nothing here needs it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server: GatewayServer
    server_version = 'jobs-local'

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it, as API Gateway does.
        if self._declared_length() > MAX_REQUEST_BYTES:
            self._started = time.perf_counter()
            self.close_connection = True
            self._respond(self._gateway().error_response('REQUEST_TOO_LARGE'))
            return False
        return super().handle_expect_100()

    def _gateway(self) -> ApiGateway:
        assert self.server.gateway is not None, 'the gateway is set before the server serves'
        return self.server.gateway

    def _serve(self) -> None:
        self._started = time.perf_counter()
        try:
            body = self._read_body()
        except _TooLarge:
            self.close_connection = True
            response = self._gateway().error_response('REQUEST_TOO_LARGE')
        except ValueError:
            self.close_connection = True
            response = json_response(400, {'errors': [{'key': 'request', 'message': 'Malformed HTTP request'}]})
        else:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                server_port=self.server.server_port,
            )
            try:
                response = self._gateway().handle(request)
            except Exception:
                log.exception('The local gateway failed')
                response = json_response(500, {'errors': [{'key': 'server', 'message': 'Local gateway error'}]})
        self._respond(response)

    def _declared_length(self) -> int:
        try:
            return int(self.headers.get('Content-Length') or 0)
        except ValueError:
            return 0

    def _read_body(self) -> bytes:
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            return self._read_chunked()
        raw_length = self.headers.get('Content-Length')
        length = int(raw_length) if raw_length else 0
        if length < 0:
            raise ValueError('negative Content-Length')
        if length > MAX_REQUEST_BYTES:
            if length <= _DRAIN_LIMIT:
                self._discard(length)
            raise _TooLarge
        return self.rfile.read(length)

    def _discard(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b';')[0].strip() or b'0', 16)
            if size == 0:
                while self.rfile.readline(1024) not in {b'\r\n', b'\n', b''}:
                    pass  # trailers
                return b''.join(chunks)
            total += size
            if total > MAX_REQUEST_BYTES:
                raise _TooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _respond(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(response.body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(response.body)
        elapsed = (time.perf_counter() - self._started) * 1000
        access_log.info('%s %s %d %.0f ms', self.command, self.path.partition('?')[0], response.status, elapsed)

    def log_request(self, code: int | str = '-', size: int | str = '-') -> None:
        pass  # _respond writes one access line per request, with its duration

    def log_message(self, format: str, *args: Any) -> None:
        log.warning('%s: %s', self.client_address[0], format % args)


def configure_logging() -> None:
    """Access, gateway and event-path lines on stderr, away from the functions' own (JSON) logs."""
    for logger in (access_log, log, logging.getLogger('jobs_local.events')):
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter('%(message)s'))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

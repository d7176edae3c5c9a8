"""The jobs console at /console: a page and its ES modules and styles, served by the API itself.

No build step and no CDN: the files in console/ are what the browser runs, shipped in the function's
code. The page asks for an API key once (kept in the tab's session storage) and calls the API from
the same origin. It is served without a key (as /v1/docs is); everything it shows comes from the
API with the key. Its files are named relative to the page (console/app.js) and the modules find the
API one level above themselves, so it works on a stage (/live/console), behind a custom domain's base
path, and locally (/console).
"""

import json
from functools import cache
from pathlib import Path
from typing import Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

router = APIGatewayRouter()

CONSOLE: Final = Path(__file__).parent / 'console'
PAGE_PATH: Final = '/console'
ASSETS: Final = {
    'app.js': 'text/javascript; charset=utf-8',
    'api.js': 'text/javascript; charset=utf-8',
    'views.js': 'text/javascript; charset=utf-8',
    'console.css': 'text/css; charset=utf-8',
    'favicon.svg': 'image/svg+xml',
}
HEADERS: Final = {
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    # Scripts and styles from this origin only. Downloads follow the API's redirect to storage,
    # another origin, so fetches may go anywhere over HTTP(S).
    'Content-Security-Policy': (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' https: http:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        "form-action 'none'"
    ),
}


@cache
def _read(name: str) -> str:
    return (CONSOLE / name).read_text(encoding='utf-8')


@router.get(PAGE_PATH, include_in_schema=False)
def console_page() -> Response[str]:
    return Response(
        status_code=200, content_type='text/html; charset=utf-8', body=_read('index.html'), headers=dict(HEADERS)
    )


@router.get(f'{PAGE_PATH}/<asset>', include_in_schema=False)
def console_asset(asset: str) -> Response[str]:
    content_type = ASSETS.get(asset)
    if content_type is None:
        body = {'errors': [{'key': 'path', 'message': f'No console file {asset}'}]}
        return Response(status_code=404, content_type='application/json', body=json.dumps(body))
    return Response(status_code=200, content_type=content_type, body=_read(asset), headers=dict(HEADERS))

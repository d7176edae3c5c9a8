"""The API's binary media types (template.yaml's BinaryMediaTypes): request bodies of these types reach
the function base64-encoded, as API Gateway sends them (REST API, proxy integration)."""

from pathlib import Path

from jobs_local.template import TEMPLATE, resources


def binary_media_types(path: Path = TEMPLATE) -> tuple[str, ...]:
    """Every AWS::Serverless::Api's BinaryMediaTypes, with SAM's `~1` read back as `/`."""
    found: list[str] = []
    for spec in resources('AWS::Serverless::Api', path).values():
        found += [str(kind).replace('~1', '/').lower() for kind in spec['Properties'].get('BinaryMediaTypes', [])]
    return tuple(found)


def is_binary(content_type: str | None, kinds: tuple[str, ...]) -> bool:
    """Whether a request's Content-Type is one of `kinds` (which may be wildcards: image/*, */*)."""
    if not content_type or not kinds:
        return False
    media = content_type.split(';', 1)[0].strip().lower()
    major, _, _ = media.partition('/')
    return any(kind in {media, f'{major}/*', '*/*'} for kind in kinds)

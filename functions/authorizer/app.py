"""API Gateway REQUEST authorizer: `Authorization: Bearer <api key>` → account, environment, actor.

The policy allows the whole API, because API Gateway caches it per key for every route.
"""

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from jobs_core.keys import ApiKeyStore, bearer_secret
from jobs_core.observability import logger, tracer
from jobs_core.settings import table_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def key_store() -> ApiKeyStore:
    return ApiKeyStore(table_settings().table_name)


@logger.inject_lambda_context(correlation_id_path='requestContext.requestId')
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: 'LambdaContext') -> dict[str, Any]:
    secret = bearer_secret(event.headers.get('Authorization'))  # case-insensitive in Powertools v3
    tenant = key_store().resolve(secret) if secret else None
    if tenant is None:
        logger.info('Rejected API key', has_key=secret is not None)
        # API Gateway turns exactly this message into a 401 (the UNAUTHORIZED gateway response).
        raise Exception('Unauthorized')

    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=tenant.actor_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={
            'accountId': tenant.account_id,
            'environmentId': tenant.environment_id,
            'actorId': tenant.actor_id,
        },
    )
    policy.allow_all_routes()
    return policy.asdict()

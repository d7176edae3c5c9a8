"""The caller's tenant, as API Gateway's authorizer put it on the request context."""

from typing import TYPE_CHECKING

from jobs_core.errors import Unauthorized
from jobs_core.models.tenant import Tenant

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


def tenant_of(event: 'APIGatewayProxyEvent') -> Tenant:
    context = (event.raw_event.get('requestContext') or {}).get('authorizer') or {}
    try:
        return Tenant(
            account_id=str(context['accountId']),
            environment_id=str(context['environmentId']),
            actor_id=str(context['actorId']),
        )
    except KeyError as missing:
        # Only a route deployed without the authorizer can get here: refuse, never guess a tenant.
        raise Unauthorized('A valid API key is required', key='authorization') from missing

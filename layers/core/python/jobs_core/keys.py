"""API keys and environments. A key is stored only as its SHA-256 hash and maps to one
account, one environment and one actor; the authorizer resolves it, nothing else does."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from jobs_core import ids
from jobs_core.dynamo import dynamodb_client, error_code, from_item, to_item, translate
from jobs_core.errors import BadRequest
from jobs_core.models.tenant import Tenant
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_PREFIX: Final = 'sk_'
ENVIRONMENT_NAME = re.compile(r'^[a-z0-9][a-z0-9_-]{0,62}$')


@dataclass(frozen=True, slots=True)
class Environment:
    id: str
    account_id: str
    name: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    secret: str  # shown once, never stored
    key_id: str
    environment: Environment


def hash_key(secret: str) -> str:
    # A key is 256 random bits, so a fast hash is enough: nothing can be guessed to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_secret(authorization: str | None) -> str | None:
    """The key in `Authorization: Bearer <key>`, or None when the header is absent or malformed."""
    if not authorization:
        return None
    scheme, _, secret = authorization.strip().partition(' ')
    secret = secret.strip()
    if scheme.lower() != 'bearer' or not secret.startswith(KEY_PREFIX) or len(secret) > 256:
        return None
    return secret


class ApiKeyStore:
    def __init__(self, table_name: str, client: 'DynamoDBClient | None' = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def resolve(self, secret: str) -> Tenant | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key={'pk': {'S': f'APIKEY#{hash_key(secret)}'}, 'sk': {'S': 'APIKEY'}}
            )
        except ClientError as error:
            raise translate(error) from error
        item = response.get('Item')
        if not item or item.get('revoked', {}).get('BOOL'):
            return None
        values = from_item(item)
        return Tenant(account_id=values['accountId'], environment_id=values['environmentId'], actor_id=values['keyId'])

    def environment(self, name: str) -> Environment:
        """The environment called `name`, created (with the deployment's account) if new."""
        if not ENVIRONMENT_NAME.match(name):
            raise BadRequest('An environment name is 1-63 characters of a-z, 0-9, - and _', key='environment')
        account_id = self._singleton('ACCOUNT#default', 'ACCOUNT', {'accountId': ids.new_id(ids.ACCOUNT)})['accountId']
        values = self._singleton(
            f'ENVIRONMENT#{name}',
            'ENVIRONMENT',
            {'environmentId': ids.new_id(ids.ENVIRONMENT), 'accountId': account_id, 'name': name},
        )
        return Environment(id=values['environmentId'], account_id=values['accountId'], name=name)

    def issue(self, environment_name: str, secret: str | None = None) -> IssuedKey:
        """A new key for the environment. `secret` lets the local stack keep a fixed dev key."""
        environment = self.environment(environment_name)
        secret = secret or KEY_PREFIX + secrets.token_urlsafe(32)
        if bearer_secret(f'Bearer {secret}') is None:
            raise BadRequest(f'An API key starts with {KEY_PREFIX} and has at most 256 characters', key='key')
        key_id = ids.new_id(ids.API_KEY)
        item = {
            'keyId': key_id,
            'environmentId': environment.id,
            'accountId': environment.account_id,
            'createdAt': format_timestamp(now()),
            'entity': 'apiKey',
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**to_item(item), 'pk': {'S': f'APIKEY#{hash_key(secret)}'}, 'sk': {'S': 'APIKEY'}},
            )
        except ClientError as error:
            raise translate(error) from error
        return IssuedKey(secret=secret, key_id=key_id, environment=environment)

    def _singleton(self, pk: str, sk: str, fresh: dict[str, str]) -> dict[str, str]:
        """Create the item once; a concurrent or later caller reads the first one written."""
        key = {'pk': {'S': pk}, 'sk': {'S': sk}}
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**to_item({**fresh, 'entity': sk.lower()}), **key},
                ConditionExpression='attribute_not_exists(pk)',
            )
        except ClientError as error:
            if error_code(error) != 'ConditionalCheckFailedException':
                raise translate(error) from error
            existing = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)['Item']
            return {name: str(value) for name, value in from_item(existing).items()}
        return fresh

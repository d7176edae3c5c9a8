"""Who is calling: resolved from the API key by the authorizer, never from the request body."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tenant:
    account_id: str
    environment_id: str
    actor_id: str

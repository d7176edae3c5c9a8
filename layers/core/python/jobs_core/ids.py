"""Flatfile-style prefixed ids (`us_jb_…`, `us_env_…`)."""

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
# 12 characters of [a-z0-9] give 62 bits: collisions stay negligible at billions of jobs,
# and every create is a conditional put anyway.
_LENGTH = 12

JOB = 'us_jb_'
ENVIRONMENT = 'us_env_'
ACCOUNT = 'us_acc_'
API_KEY = 'us_key_'


def new_id(prefix: str) -> str:
    return prefix + ''.join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))

"""Flatfile-style prefixed ids (`us_jb_…`, `us_env_…`)."""

import hashlib
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
SPACE = 'us_sp_'
FILE = 'us_fl_'
WORKBOOK = 'us_wb_'
SHEET = 'us_sh_'
RECORD = 'us_rc_'
SNAPSHOT = 'us_ss_'
COMMIT = 'us_vr_'  # Flatfile names a commit by its version id


def new_id(prefix: str) -> str:
    return prefix + ''.join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))


_SORTABLE = string.digits + string.ascii_lowercase  # in ASCII order, so ids sort as numbers do


def _base36(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_SORTABLE[digit])
    return ''.join(reversed(digits))


def new_record_ids(count: int, now_ms: int) -> list[str]:
    """`count` record ids that sort in insertion order: the time in ms, the position in the
    batch, then 8 random characters (41 bits), so concurrent batches in the same ms never collide."""
    stamp = _base36(now_ms, 9)
    return [f'{RECORD}{stamp}{_base36(position, 4)}{_base36(secrets.randbits(41), 8)}' for position in range(count)]


def derived_id(prefix: str, *parts: str) -> str:
    """An id made from what it belongs to (a job and a role), so a step that runs again finds the
    resource it created the first time instead of making a second one."""
    digest = int.from_bytes(hashlib.sha256('\x1f'.join(parts).encode()).digest()[:10], 'big')
    return prefix + _base36(digest, _LENGTH)


def record_id_at(stamp_ms: int, position: int, salt: str) -> str:
    """The id of the record a job writes for its `position`-th row: always the same for the same job
    and row (a retried chunk rewrites, never duplicates, it), sorting in row order after what was
    there before the job (the stamp is the job's creation), and as long as new_record_ids' ids."""
    return f'{RECORD}{_base36(stamp_ms, 9)}{_base36(position, 6)}{salt[:6]}'


def salt_of(*parts: str) -> str:
    """Six characters derived from `parts` (a job id), to keep derived record ids of two jobs apart."""
    digest = int.from_bytes(hashlib.sha256('\x1f'.join(parts).encode()).digest()[:5], 'big')
    return _base36(digest, 6)

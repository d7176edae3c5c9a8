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
    return [
        f'{RECORD}{stamp}{_base36(position, 4)}{"".join(secrets.choice(_ALPHABET) for _ in range(8))}'
        for position in range(count)
    ]

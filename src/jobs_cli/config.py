"""Where the CLI finds the API and its key.

In order: `--api-url` / `--api-key`; then `JOBS_API_URL` / `JOBS_API_KEY`; then a profile saved by
`jobs configure` (`--profile NAME`, else $JOBS_PROFILE, else `default`). A profile named with
`--profile` is an explicit choice, so it beats the environment (as the AWS CLI's does); the flags
beat everything. Without any URL the local stack (`jobs dev`) is assumed.

Profiles live in one TOML file in the user's config directory (~/.config/jobs/config.toml on Linux;
$JOBS_CONFIG names another file), readable by its owner only (mode 600): it holds API keys.
"""

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import typer

DEFAULT_LOCAL_URL: Final = 'http://127.0.0.1:3000'
DEFAULT_PROFILE: Final = 'default'
PROFILE_NAME_CHARS: Final = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_')


class ConfigError(Exception):
    """The configuration cannot be used; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Profile:
    api_url: str | None = None
    api_key: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    api_url: str
    api_key: str
    source: str  # where the key came from, for messages: "--api-key", "JOBS_API_KEY", "profile default"


def config_path() -> Path:
    given = os.environ.get('JOBS_CONFIG')
    return Path(given) if given else Path(typer.get_app_dir('jobs')) / 'config.toml'


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    path = path or config_path()
    try:
        with path.open('rb') as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f'cannot read {path}: {error}') from None
    profiles = {}
    for name, table in document.items():
        if isinstance(table, dict):
            url, key = table.get('api_url'), table.get('api_key')
            profiles[name] = Profile(url if isinstance(url, str) else None, key if isinstance(key, str) else None)
    return profiles


def check_profile_name(name: str) -> str:
    if not name or not set(name) <= PROFILE_NAME_CHARS or len(name) > 64:
        raise ConfigError(f'profile {name!r}: a name is 1-64 letters, digits, - and _')
    return name


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string: same quotes and escapes


def save_profile(name: str, profile: Profile, path: Path | None = None) -> Path:
    """Add or replace one profile, keeping the others; the file is created with mode 600."""
    check_profile_name(name)
    path = path or config_path()
    profiles = {**load_profiles(path), name: profile}
    lines = ['# Profiles of the `jobs` command (`jobs configure`). Holds API keys: keep it private.']
    for each, saved in sorted(profiles.items()):
        lines += ['', f'[{each}]']
        if saved.api_url:
            lines.append(f'api_url = {_toml_string(saved.api_url)}')
        if saved.api_key:
            lines.append(f'api_key = {_toml_string(saved.api_key)}')
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + '.tmp')
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w', encoding='utf-8') as stream:
        stream.write('\n'.join(lines) + '\n')
    temporary.chmod(0o600)  # also when the file was there before with wider bits
    temporary.replace(path)
    return path


def resolve(api_url: str | None, api_key: str | None, profile: str | None) -> Connection:
    """The API and key to use, by the precedence in this module's docstring."""
    explicit_profile = profile is not None
    name = profile or os.environ.get('JOBS_PROFILE') or DEFAULT_PROFILE
    profiles = load_profiles()
    if explicit_profile and name not in profiles:
        raise ConfigError(f'no profile {name!r} in {config_path()}; create it with `jobs configure --profile {name}`')
    saved = profiles.get(name, Profile())
    environment = Profile(os.environ.get('JOBS_API_URL') or None, os.environ.get('JOBS_API_KEY') or None)
    flags = (Profile(api_url, api_key), '--api-key')
    from_profile = (saved, f'profile {name!r} ({config_path()})')
    from_environment = (environment, 'JOBS_API_KEY')
    # An explicit --profile beats the environment; the environment beats the default profile.
    layers = [flags, from_profile, from_environment] if explicit_profile else [flags, from_environment, from_profile]
    url = next((layer.api_url for layer, _ in layers if layer.api_url), None) or DEFAULT_LOCAL_URL
    key, source = next(((layer.api_key, where) for layer, where in layers if layer.api_key), (None, ''))
    if not key:
        raise ConfigError(
            'no API key: pass --api-key, set JOBS_API_KEY, or save one with `jobs configure` (`jobs dev` prints one)'
        )
    return Connection(api_url=url.rstrip('/'), api_key=key, source=source)

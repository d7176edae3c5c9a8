"""Cold start: how long each function's entry module takes to import in a fresh interpreter.

Each figure is measured inside a new Python process, with time.perf_counter around the import
itself (not the interpreter's own start), and set against a floor measured in the same run: a
fresh interpreter importing boto3, pydantic and the Powertools event handler and creating one
DynamoDB client, which any Python API on this stack pays. Floor and function runs are
interleaved, so a machine that slows down mid-run slows both.

The child gets what Lambda gives a function: its code folder first on sys.path, then the core
layer, then only the packages a deployed function has (the dependencies layer's requirements.txt
and the boto3 of the runtime, with their dependencies), the function's environment from
template.yaml (Powertools settings, table name), a region, credentials in the environment, and
LAMBDA_TASK_ROOT (so Powertools traces, as it does when deployed with Tracing: Active).
Limiting the packages matters: X-Ray patches every library it finds, and the development venv
has httpx (for the CLI), which a deployed function does not. `--layout venv` measures with the
whole development venv instead; `--no-tracing` with tracing switched off.

Target (issue 2): the api entry module at most 1.25x the floor.

    python bench/cold_start.py [--runs 15] [--layout lambda|venv] [--no-tracing] [--check]
"""

import argparse
import importlib.metadata
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / 'layers' / 'core' / 'python'
DEPENDENCIES = ROOT / 'layers' / 'deps' / 'requirements.txt'
RUNTIME_PACKAGES = ('boto3',)  # what the python3.12 Lambda runtime provides
sys.path.insert(0, str(ROOT / 'src'))

from jobs_local.template import functions, load  # noqa: E402 - after the path above

TARGET_FUNCTION = 'ApiFunction'
TARGET_RATIO = 1.25

# Each child prints the seconds its timed block took. Everything before `start` is untimed;
# PACKAGES becomes the layout's package folders when the subject runs.
_CHILD = """
import sys, time
sys.path[0:0] = {paths!r} + PACKAGES
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""
FLOOR = _CHILD.format(
    paths=[],
    body='import boto3, pydantic, aws_lambda_powertools.event_handler\nboto3.client("dynamodb")',
)
BOTO3 = _CHILD.format(paths=[], body='import boto3')


def entry_module(folder: Path, handler: str) -> str:
    module = handler.rpartition('.')[0]
    return _CHILD.format(paths=[str(folder), str(CORE)], body=f'import {module}')


def entry_module_and_client(folder: Path, handler: str) -> str:
    """The import plus the DynamoDB client the first request creates (jobs_core.dynamo)."""
    module = handler.rpartition('.')[0]
    body = f'import {module}\nfrom jobs_core.dynamo import dynamodb_client\ndynamodb_client()'
    return _CHILD.format(paths=[str(folder), str(CORE)], body=body)


@dataclass(frozen=True)
class Layout:
    """Where the child finds its packages: `-S` and an explicit folder, or the whole venv."""

    name: str
    packages: list[str]
    isolated: bool

    def command(self, code: str) -> list[str]:
        code = code.replace('+ PACKAGES', f'+ {self.packages!r}')
        return [sys.executable, '-S', '-c', code] if self.isolated else [sys.executable, '-c', code]


def distributions(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements pull in, extras and dependencies included."""
    found: set[str] = set()
    pending = [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        name = importlib.metadata.distribution(requirement.name).metadata['Name']
        key = f'{name}{sorted(requirement.extras)}'
        if key in found:
            continue
        found.add(key)
        for text in importlib.metadata.requires(name) or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                needed.marker.evaluate({'extra': extra}) for extra in requirement.extras or {''}
            ):
                pending.append(needed)
    return {key.partition('[')[0] for key in found}


def lambda_layout(folder: Path) -> Layout:
    """A folder of links to just the packages a deployed function can import."""
    lines = [line.split('#')[0].strip() for line in DEPENDENCIES.read_text().splitlines()]
    requirements = [line for line in lines if line] + list(RUNTIME_PACKAGES)
    site = folder / 'python'
    site.mkdir()
    for name in sorted(distributions(requirements)):
        distribution = importlib.metadata.distribution(name)
        tops = {Path(str(file)).parts[0] for file in distribution.files or []}
        for top in tops:
            source = Path(str(distribution.locate_file(top)))
            if top.endswith(('.dist-info', '.pth')) or top in {'__pycache__', '..'} or not source.exists():
                continue
            if not (site / top).exists():
                (site / top).symlink_to(source)
    return Layout('lambda', [str(site)], isolated=True)


@dataclass
class Subject:
    name: str
    code: str
    environment: dict[str, str]
    layout: Layout
    samples: list[float] = field(default_factory=list)

    def run(self) -> float:
        completed = subprocess.run(
            self.layout.command(self.code),
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if completed.returncode != 0:
            raise SystemExit(f'{self.name} failed:\n{completed.stderr}')
        return float(completed.stdout.strip().splitlines()[-1])

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000


def base_environment() -> dict[str, str]:
    keep = {'PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR'}
    environment = {name: value for name, value in os.environ.items() if name in keep}
    environment.update(
        AWS_REGION='us-east-1',
        AWS_DEFAULT_REGION='us-east-1',
        # Lambda hands a function its credentials in the environment; without them botocore
        # would probe the instance metadata service while creating a client.
        AWS_ACCESS_KEY_ID='bench',
        AWS_SECRET_ACCESS_KEY='bench',
        AWS_SESSION_TOKEN='bench',
    )
    return environment


def function_environment(name: str, tracing: bool) -> dict[str, str]:
    spec = functions()[name]
    environment = base_environment()
    parameters = load().get('Parameters', {})
    for variable, declared in spec.environment.items():
        # A !Ref to a parameter takes its default; a !Ref to a resource a stand-in name.
        value = declared
        if isinstance(declared, dict) and declared.get('Ref') in parameters:
            value = parameters[declared['Ref']].get('Default', '')
        environment[variable] = str(value) if isinstance(value, str | int) else f'bench-{variable.lower()}'
    environment.update(AWS_LAMBDA_FUNCTION_NAME=name, AWS_EXECUTION_ENV='AWS_Lambda_python3.12')
    if tracing:
        environment['LAMBDA_TASK_ROOT'] = str(spec.code_uri.resolve())
    else:
        environment['POWERTOOLS_TRACE_DISABLED'] = 'true'
    return environment


def subjects(layout: Layout, tracing: bool) -> tuple[Subject, Subject, list[Subject]]:
    floor = Subject('floor', FLOOR, function_environment(TARGET_FUNCTION, tracing), layout)
    boto3_only = Subject('import boto3', BOTO3, base_environment(), layout)
    measured = []
    for name, spec in functions().items():
        environment = function_environment(name, tracing)
        measured.append(Subject(name, entry_module(spec.code_uri.resolve(), spec.handler), environment, layout))
        if name == TARGET_FUNCTION:
            code = entry_module_and_client(spec.code_uri.resolve(), spec.handler)
            measured.append(Subject(f'{name} + first client', code, environment, layout))
    return floor, boto3_only, measured


def measure(everything: list[Subject], runs: int, warmup: int) -> None:
    order = random.Random(2)
    for round_number in range(warmup + runs):
        # Floor and functions interleaved, in a new order each round, so drift hits all alike.
        for subject in order.sample(everything, len(everything)):
            elapsed = subject.run()
            if round_number >= warmup:
                subject.samples.append(elapsed)
        if sys.stderr.isatty():
            print(f'\r  round {round_number + 1}/{warmup + runs}', end='', file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print('\r', end='', file=sys.stderr, flush=True)


def report(floor: Subject, boto3_only: Subject, measured: list[Subject], tracing: bool) -> bool:
    print(f'Cold start: import time in a fresh interpreter, medians of {len(floor.samples)} runs')
    packages = 'deployed packages only' if floor.layout.isolated else 'the whole development venv'
    tracing_note = 'on, as deployed' if tracing else 'off'
    print(f'(packages: {packages}; tracing {tracing_note}; Python {sys.version.split()[0]})')
    print()
    header = f'{"measured":<28} {"median ms":>10} {"min ms":>8} {"max ms":>8} {"x floor":>8}'
    print(header)
    print('-' * len(header))
    for subject in [floor, *measured]:
        ratio = subject.median_ms / floor.median_ms
        low, high = min(subject.samples) * 1000, max(subject.samples) * 1000
        print(f'{subject.name:<28} {subject.median_ms:>10.1f} {low:>8.1f} {high:>8.1f} {ratio:>8.2f}')
    print()
    print('For context: the floor against `import boto3` alone')
    ratio = floor.median_ms / boto3_only.median_ms
    print(f'{"import boto3":<28} {boto3_only.median_ms:>10.1f} ms; floor is {ratio:.2f}x boto3 alone')
    print()
    target = next(subject for subject in measured if subject.name == TARGET_FUNCTION)
    ratio = target.median_ms / floor.median_ms
    met = ratio <= TARGET_RATIO
    verdict = 'MET' if met else 'NOT MET'
    print(f'Target: {TARGET_FUNCTION} entry module <= {TARGET_RATIO}x floor: {ratio:.2f}x -> {verdict}')
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=15, help='timed runs of each subject (default 15)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first, to warm the file cache')
    parser.add_argument('--layout', choices=['lambda', 'venv'], default='lambda', help='which packages the child sees')
    parser.add_argument('--no-tracing', dest='tracing', action='store_false', help='measure with tracing off')
    parser.add_argument('--check', action='store_true', help='exit 1 when the target is not met')
    parser.add_argument('--json', type=Path, help='also write the samples here')
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix='jobs-bench-') as folder:
        layout = lambda_layout(Path(folder)) if arguments.layout == 'lambda' else Layout('venv', [], isolated=False)
        floor, boto3_only, measured = subjects(layout, arguments.tracing)
        everything = [floor, boto3_only, *measured]
        measure(everything, arguments.runs, arguments.warmup)
    met = report(floor, boto3_only, measured, arguments.tracing)
    if arguments.json:
        arguments.json.write_text(json.dumps({subject.name: subject.samples for subject in everything}, indent=2))
    # Timings are noisy, so by default the benchmark reports and exits 0; --check makes it a gate.
    return 1 if arguments.check and not met else 0


if __name__ == '__main__':
    sys.exit(main())

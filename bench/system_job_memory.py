"""Memory of extract and export: peak RSS at 20,000 and at 200,000 rows, each in a fresh process.

The backend (moto's server, with the local stack's DynamoDB transactions) runs in this process; each
measured job runs in a new Python process that only drives the job's worker steps against it, as a
worker Lambda would, and reports its own peak resident set: VmHWM, the high-water mark of its memory
since it started (ru_maxrss is not used: Linux keeps it across exec, so it would count the memory
of this process, moto's tables included, at the fork that started the child). What a worker holds should
grow with its chunk (one 8 MiB window of the file, one batch of records, one 8 MiB part of the
export), never with the file or the sheet: ten times the rows, about the same peak. A process that
only imports the worker's modules is measured too, for scale.

Checked claim (issue 5): peak RSS at 200,000 rows is at most 1.3 times that at 20,000, for extract
and for CSV export.

    python bench/system_job_memory.py [--small 20000] [--large 200000]
"""

import argparse
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import system_job_setup as setup

MAX_RATIO = 1.3
HERE = Path(__file__).resolve()


def child(what: str, job_id: str) -> None:
    """In a fresh process: run the job (or only import what a worker imports) and print the peak RSS."""
    if what == 'imports':
        from jobs_core.system import catalog, runtime  # noqa: F401 - what a worker loads
    else:
        setup.run(job_id)
    status = Path('/proc/self/status').read_text()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith('VmHWM:')))  # KiB


def measure(what: str, job_id: str, endpoint: str) -> float:
    """Peak RSS in MiB of a fresh process that runs the job."""
    environment = {**os.environ, 'AWS_ENDPOINT_URL': endpoint}
    done = subprocess.run(
        [sys.executable, str(HERE), '--child', what, '--job', job_id],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode:
        raise SystemExit(f'{what} {job_id} failed:\n{done.stderr}')
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--small', type=int, default=20_000)
    parser.add_argument('--large', type=int, default=200_000)
    parser.add_argument('--child')
    parser.add_argument('--job', default='')
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.job)
        return 0

    from moto.server import ThreadedMotoServer

    logging.getLogger('werkzeug').setLevel(logging.WARNING)  # moto's server logs every call
    port = free_port()
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    endpoint = f'http://127.0.0.1:{port}'
    os.environ['AWS_ENDPOINT_URL'] = endpoint
    peaks: dict[tuple[str, int], float] = {}
    try:
        setup.create_resources()
        space_id = setup.space()
        imports = measure('imports', '', endpoint)
        for rows in (arguments.small, arguments.large):
            extract = setup.extract_job(setup.upload(space_id, setup.people_csv(rows)))
            peaks['extract', rows] = measure('extract', extract, endpoint)
            from jobs_core.data_jobs import data_plane

            sheet_id = str((data_plane().jobs.get(setup.tenant(), extract).result or {})['sheetIds'][0])
            export = setup.create_job(type='sheet', operation='export', source=sheet_id)
            peaks['export', rows] = measure('export', export, endpoint)
    finally:
        server.stop()

    print("Peak RSS of a fresh worker process (MiB); the moto server runs in the benchmark's process\n")
    print(f'{"job":<22} {arguments.small:>10,} {arguments.large:>10,} {"ratio":>7}')
    print('-' * 52)
    print(f'{"imports only":<22} {imports:>10.1f}')
    problems = []
    for job in ('extract', 'export'):
        small, large = peaks[job, arguments.small], peaks[job, arguments.large]
        ratio = large / small
        print(f'{job + " (CSV)":<22} {small:>10.1f} {large:>10.1f} {ratio:>7.2f}')
        if ratio > MAX_RATIO:
            problems.append(f'{job}: {ratio:.2f} > {MAX_RATIO}')
    print('\n' + ('FAIL: ' + '; '.join(problems) if problems else 'OK: every claim holds'))
    return 1 if problems else 0


if __name__ == '__main__':
    raise SystemExit(main())

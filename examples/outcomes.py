"""The seed's outcomes: one job for each `next` action a completed job can offer the user (an
internal link, an external URL, a download, a snapshot, a retry), and one with the user-feedback
fields (heading, button text, acknowledge). Each is a job-handler function: it returns the
outcome, and the helper acks, completes, or fails the job if the function raised.

    jobs listen examples/outcomes.py

Try, e.g., {"type": "space", "operation": "openFiles", "source": "us_sp_…", "spaceId": "us_sp_…",
"trigger": "immediate"}; the jobs and what they need are below.
"""

from typing import Any

from jobs_sdk import Event, Listener, Tick

listener = Listener()


@listener.job('space:openFiles')
def open_files(event: Event, tick: Tick) -> dict[str, Any]:
    """Internal navigation: to the files of the job's space."""
    return {
        'message': 'Process completed',
        'next': {
            'type': 'id',
            'id': event.context.space_id,
            'path': 'files',
            'query': 'mode=export',
            'label': 'View Files',
        },
    }


@listener.job('workbook:publishReport')
def publish_report(event: Event, tick: Tick) -> dict[str, Any]:
    """An external URL, opened in a new tab."""
    return {
        'message': 'Process completed',
        'next': {'type': 'url', 'url': f'https://reports.example.com/{event.context.job_id}', 'label': 'View Results'},
    }


@listener.job('workbook:downloadExport')
def download_export(event: Event, tick: Tick) -> dict[str, Any]:
    """A file to download."""
    return {
        'message': 'Files ready',
        'next': {
            'type': 'download',
            'fileName': 'export.csv',
            'url': f'https://files.example.com/exports/{event.context.job_id}.csv',
            'label': 'Download',
        },
    }


@listener.job('sheet:takeSnapshot')
def take_snapshot(event: Event, tick: Tick) -> dict[str, Any]:
    """A snapshot of the job's sheet; the snapshot's id comes with the job's input."""
    snapshot_id = (event.payload.get('input') or {})['snapshotId']
    return {
        'message': 'Snapshot created',
        'next': {
            'type': 'snapshot',
            'snapshotId': snapshot_id,
            'sheetId': event.context.sheet_id,
            'label': 'View Snapshot',
        },
    }


@listener.job('workbook:syncCrm')
def sync_crm(event: Event, tick: Tick) -> dict[str, Any]:
    """Done, with warnings: offer to run it again."""
    return {'message': 'Process completed with warnings', 'next': {'type': 'retry', 'label': 'Try Again'}}


@listener.job('workbook:summarize')
def summarize(event: Event, tick: Tick) -> dict[str, Any]:
    """User feedback: a modal with a heading and a button the user must acknowledge."""
    return {
        'heading': 'Process Complete',
        'message': 'Detailed results...',
        'buttonText': 'Continue',
        'acknowledge': True,
    }

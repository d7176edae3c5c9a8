"""Flatfile's automap flow as a listener: a file extracted for import is mapped onto the destination
sheet of its space, and the map job runs by itself when its plan is sure of every edge; otherwise it
waits, planned, for a person to adjust the plan (`jobs plan JOB --map SOURCE=DEST`) and execute it.

    jobs listen examples/automap.py

Upload a CSV with `mode: import` into a space that has a workbook with a sheet of slug
$JOBS_AUTOMAP_SHEET ("contacts" by default).
"""

import os

from jobs_sdk import Event, JobsClient, Listener

listener = Listener()

DESTINATION_SHEET = os.environ.get('JOBS_AUTOMAP_SHEET', 'contacts')
SURE = frozenset({'absolute', 'strong'})


@listener.on('job:completed', job='file:extract')
def map_the_upload(event: Event, api: JobsClient) -> None:
    """The extracted sheet onto the space's destination sheet, as a map job (planned by the platform)."""
    extract = api.jobs.get(event.context.job_id)
    result = extract.result or {}
    if len(result.get('sheetIds', [])) != 1:
        return  # a workbook of several worksheets: which goes where is a person's call
    workbooks = api.request('GET', '/v1/workbooks', params={'spaceId': str(event.context.space_id)})['data']
    destination = next(
        (
            (workbook['id'], sheet['id'])
            for workbook in workbooks
            if workbook['id'] != result['workbookId']
            for sheet in workbook['sheets']
            if sheet['slug'] == DESTINATION_SHEET
        ),
        None,
    )
    if destination is None:
        return
    api.jobs.create(
        type='workbook',
        operation='map',
        source=result['workbookId'],
        destination=destination[0],
        config={'sourceSheetId': result['sheetIds'][0], 'destinationSheetId': destination[1]},
        input={'isAutomap': True},
    )


@listener.on('job:updated', job='workbook:map', status='planning')
def run_when_sure(event: Event, api: JobsClient) -> None:
    """Once the plan is announced: execute it when every edge is absolute or strong."""
    found = api.jobs.get_plan(event.context.job_id)
    edges = found.plan.field_mapping
    if edges and all(edge.metadata and edge.metadata.certainty in SURE for edge in edges):
        api.jobs.execute(found.job.id)

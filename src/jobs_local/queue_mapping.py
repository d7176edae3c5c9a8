"""Lambda's SQS event source mapping, run by the local stack against moto's SQS.

What Lambda does, from the function's `SQS` event in the template: long-polls the queue, gathers up
to BatchSize messages (waiting at most MaximumBatchingWindowInSeconds for more), deletes the
messages its FilterCriteria do not match, and invokes the function with `{"Records": [...]}`. It
deletes the messages that succeeded. With ReportBatchItemFailures, the messages a response names
stay on the queue (a malformed response fails the whole batch); a function error leaves them all.
Messages left on the queue come back after their visibility timeout, and SQS itself moves a message
received more than the RedrivePolicy's maxReceiveCount to the dead-letter queue (moto does this on
receive, as SQS does).

Locally, a failed message is made visible again after a short retry delay instead of the queue's
whole visibility timeout, so retries take seconds, not minutes.
"""

import base64
import contextlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jobs_local.patterns import matches
from jobs_local.stream_mapping import item_identifiers

log = logging.getLogger('jobs_local.events')

MAX_MESSAGES_PER_RECEIVE = 10  # SQS's limit for one ReceiveMessage


@dataclass(frozen=True)
class QueueMappingConfig:
    function_name: str
    queue_arn: str
    region: str = 'us-east-1'
    batch_size: int = 10  # Lambda's defaults for an SQS event source
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()


class QueueClient(Protocol):
    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        """Messages as ReceiveMessage returns them (with all attributes), after long-polling at most that long."""
        ...

    def delete(self, receipt_handles: list[str]) -> None: ...

    def retry_later(self, receipt_handles: list[str]) -> None:
        """Make the messages visible again after the local retry delay."""
        ...


Invoke = Callable[[dict[str, Any]], Any]
Wait = Callable[[float], bool]  # sleeps; True when the stack is stopping


class QueueMapping:
    def __init__(
        self,
        config: QueueMappingConfig,
        queue: QueueClient,
        invoke: Invoke,
        *,
        wait: Wait,
        clock: Callable[[], float],
        poll_seconds: int = 1,
    ) -> None:
        self.config = config
        self._queue = queue
        self._invoke = invoke
        self._wait = wait
        self._clock = clock
        self._poll_seconds = 0  # the first poll is short, so the stack knows at once that this one runs
        self._long_poll_seconds = poll_seconds

    def poll_once(self) -> None:
        messages = self._gather()
        if not messages:
            return
        records = [sqs_record(message, self.config.queue_arn, self.config.region) for message in messages]
        kept = [self._wanted(record) for record in records]
        wanted = [record for record, keep in zip(records, kept, strict=True) if keep]
        unwanted = [record['receiptHandle'] for record, keep in zip(records, kept, strict=True) if not keep]
        if unwanted:
            self._queue.delete(unwanted)  # Lambda deletes the messages its filters drop
        if not wanted:
            return
        failed = self._failed_ids(wanted)
        succeeded = [record['receiptHandle'] for record in wanted if record['messageId'] not in failed]
        retried = [record['receiptHandle'] for record in wanted if record['messageId'] in failed]
        if succeeded:
            self._queue.delete(succeeded)
        if retried:
            self._queue.retry_later(retried)

    def _gather(self) -> list[dict[str, Any]]:
        """One batch: a long poll, then more short polls until the batch is full or its window has passed."""
        size = self.config.batch_size
        messages = self._queue.receive(min(size, MAX_MESSAGES_PER_RECEIVE), self._poll_seconds)
        self._poll_seconds = self._long_poll_seconds
        if not messages:
            return []
        deadline = self._clock() + self.config.batching_window_seconds
        while len(messages) < size and self._clock() < deadline:
            more = self._queue.receive(min(size - len(messages), MAX_MESSAGES_PER_RECEIVE), 0)
            messages.extend(more)
            if not more and self._wait(min(0.05, max(0.0, deadline - self._clock()))):
                break
        return messages

    def _wanted(self, record: dict[str, Any]) -> bool:
        if not self.config.filters:
            return True
        body: Any = record['body']
        with contextlib.suppress(ValueError):  # a body that is not JSON is filtered as plain text
            body = json.loads(body)
        subject = {**record, 'body': body}
        return any(matches(pattern, subject) for pattern in self.config.filters)

    def _failed_ids(self, records: list[dict[str, Any]]) -> set[str]:
        """The ids of the messages to leave on the queue, as Lambda reads the function's answer."""
        every = {record['messageId'] for record in records}
        try:
            response = self._invoke({'Records': records})
        except Exception as error:  # an Unhandled function error: the whole batch comes back
            log.warning(
                '%s failed on %d messages (%s: %s); they return to the queue',
                self.config.function_name,
                len(records),
                type(error).__name__,
                error,
            )
            return every
        if not self.config.report_batch_item_failures:
            return set()
        failures = response.get('batchItemFailures') if isinstance(response, dict) else None
        if not failures:
            return set()
        identifiers = item_identifiers(failures)
        if identifiers is None or not set(identifiers) <= every:
            log.warning('%s answered malformed batchItemFailures; the whole batch returns', self.config.function_name)
            return every
        return set(identifiers)


# ---------------------------------------------------------------- records as Lambda delivers them
def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A message from ReceiveMessage in the shape of a record of Lambda's SQS event."""
    record: dict[str, Any] = {
        'messageId': message['MessageId'],
        'receiptHandle': message['ReceiptHandle'],
        'body': message.get('Body', ''),
        'attributes': {name: str(value) for name, value in message.get('Attributes', {}).items()},
        'messageAttributes': {
            name: _message_attribute(value) for name, value in message.get('MessageAttributes', {}).items()
        },
        'md5OfBody': message.get('MD5OfBody', ''),
        'eventSource': 'aws:sqs',
        'eventSourceARN': queue_arn,
        'awsRegion': region,
    }
    if 'MD5OfMessageAttributes' in message:
        record['md5OfMessageAttributes'] = message['MD5OfMessageAttributes']
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {'stringListValues': [], 'binaryListValues': [], 'dataType': value['DataType']}
    if 'StringValue' in value:
        attribute['stringValue'] = value['StringValue']
    if 'BinaryValue' in value:
        attribute['binaryValue'] = base64.b64encode(value['BinaryValue']).decode()
    return attribute


class SqsQueue:
    """A queue of moto's SQS, as a mapping or a subscription reads it."""

    def __init__(self, client: Any, url: str, retry_seconds: float) -> None:
        self._client = client
        self.url = url
        self._retry_seconds = retry_seconds

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=['All'],
            MessageAttributeNames=['All'],
        )
        return list(response.get('Messages', []))

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), MAX_MESSAGES_PER_RECEIVE):
            chunk = receipt_handles[start : start + MAX_MESSAGES_PER_RECEIVE]
            entries = [{'Id': str(index), 'ReceiptHandle': handle} for index, handle in enumerate(chunk)]
            self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)

    def retry_later(self, receipt_handles: list[str]) -> None:
        seconds = math.ceil(self._retry_seconds)  # SQS counts visibility in whole seconds
        for start in range(0, len(receipt_handles), MAX_MESSAGES_PER_RECEIVE):
            chunk = receipt_handles[start : start + MAX_MESSAGES_PER_RECEIVE]
            entries = [
                {'Id': str(index), 'ReceiptHandle': handle, 'VisibilityTimeout': seconds}
                for index, handle in enumerate(chunk)
            ]
            self._client.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)

    def send(self, body: str, attributes: dict[str, Any] | None = None) -> None:
        self._client.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes=attributes or {})

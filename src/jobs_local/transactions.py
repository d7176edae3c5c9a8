"""moto's TransactWriteItems, rolled back item by item as DynamoDB's costs suggest.

To undo a canceled transaction, moto deep-copies every table the transaction touches before it
starts: a cost that grows with the table (about a second a transaction once a sheet holds 50,000
records, so every write of the data plane that is a transaction slows down, and calls time out),
where DynamoDB's does not grow at all. The local stack installs this instead: the same transaction
(moto's own code still decides and applies it), but backed up by copying only the items it names,
and undone by putting those back and taking back the stream records it added.
"""

import copy
import threading
from dataclasses import dataclass
from typing import Any

_local = threading.local()
_installed = threading.Lock()


@dataclass
class _Backup:
    table: Any
    hash_key: Any
    range_key: Any
    item: Any  # a deep copy of the item before the transaction, or None when it did not exist
    stream_length: int | None


class _CopyModule:
    """What moto.dynamodb.models sees as its `copy` module: the real one, except that inside one of our
    transactions a table is not copied (its items are backed up one by one instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table  # noqa: PLC0415 - moto is the local stack's only

        if getattr(_local, 'active', False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def install() -> None:
    """Replace moto's DynamoDB transactions with the item-by-item rollback (once per process)."""
    from moto.dynamodb import models  # noqa: PLC0415 - moto is the local stack's only

    with _installed:
        if getattr(models.DynamoDBBackend.transact_write_items, 'backs_up_items', False):
            return
        original = models.DynamoDBBackend.transact_write_items
        models.copy = _CopyModule()  # type: ignore[assignment]

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            backups = _back_up(self, transact_items)
            _local.active = True
            try:
                original(self, transact_items)
            except Exception:
                _restore(backups)
                raise
            finally:
                _local.active = False

        transact_write_items.backs_up_items = True  # type: ignore[attr-defined]
        models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _back_up(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Backup]:
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    backups = []
    for entry in transact_items:
        for op_type, operation in entry.items():
            table = backend.tables.get(operation.get('TableName'))
            key = operation.get('Item') if op_type == 'Put' else operation.get('Key')
            if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                continue  # moto refuses it before writing anything
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
            if table.has_range_key and table.range_key_attr not in key:
                continue
            current = table.get_item(hash_key, range_key)
            shard = table.stream_shard
            backups.append(
                _Backup(table, hash_key, range_key, copy.deepcopy(current), len(shard.items) if shard else None)
            )
    return backups


def _restore(backups: list[_Backup]) -> None:
    for backup in reversed(backups):
        table = backup.table
        if backup.range_key is not None:
            partition = table.items[backup.hash_key]
            if backup.item is None:
                partition.pop(backup.range_key, None)
            else:
                partition[backup.range_key] = backup.item
            if not partition:
                table.items.pop(backup.hash_key, None)
        elif backup.item is None:
            table.items.pop(backup.hash_key, None)
        else:
            table.items[backup.hash_key] = backup.item
        if backup.stream_length is not None and table.stream_shard is not None:
            del table.stream_shard.items[backup.stream_length :]

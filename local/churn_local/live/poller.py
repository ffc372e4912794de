"""A Kinesis event source mapping on one machine: poll each shard, invoke the function with
Lambda's Kinesis event, honour partial batch responses, retry, bisect, and send what stays
failed to the on-failure destination, as Lambda documents it.

- ``batchItemFailures``: the batch is retried from the lowest failed sequence number (records
  before it are checkpointed);
- an invocation that raises: the whole batch is retried, and with ``BisectBatchOnFunctionError``
  split in two (each half with its own retries), down to single records;
- retries spent: an invocation record naming the shard and the sequence range (never the data)
  goes to the on-failure SQS queue, and the shard moves on.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class MappingSettings:
    batch_size: int = 100
    max_retries: int = 3
    bisect: bool = True
    report_item_failures: bool = True
    poll_interval_s: float = 0.05

    @classmethod
    def from_template(cls, props: Mapping[str, Any]) -> MappingSettings:
        return cls(
            batch_size=int(props.get("BatchSize", 100)),
            max_retries=int(props.get("MaximumRetryAttempts", 3)),
            bisect=bool(props.get("BisectBatchOnFunctionError", False)),
            report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        )


@dataclass
class Counters:
    invocations: int = 0
    records_in: int = 0
    failed_invocations: int = 0
    sent_to_destination: int = 0
    latencies: list[float] = field(default_factory=list)


class _Context:
    function_name = "LiveScoreFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:LiveScoreFunction"
    aws_request_id = "local"


def lambda_record(record: Mapping[str, Any], shard_id: str, stream_arn: str, region: str) -> dict[str, Any]:
    arrival = record.get("ApproximateArrivalTimestamp")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrival.timestamp()
            if isinstance(arrival, datetime)
            else time.time(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/LiveScoreRole",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


class ShardPoller:
    def __init__(
        self,
        kinesis: Any,
        sqs: Any,
        stream_name: str,
        stream_arn: str,
        handler: Handler,
        settings: MappingSettings,
        failures_queue_url: str,
        *,
        region: str = "us-east-1",
        starting_position: str = "TRIM_HORIZON",
    ) -> None:
        self.kinesis, self.sqs = kinesis, sqs
        self.stream_name, self.stream_arn = stream_name, stream_arn
        self.handler, self.settings = handler, settings
        self.failures_queue_url = failures_queue_url
        self.region, self.starting_position = region, starting_position
        self.counters = Counters()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- one batch, as Lambda treats it ---------------------------------------------------
    def _invoke(self, records: list[dict[str, Any]]) -> int | None:
        """Invoke once; the index of the first record to retry from, or None when all succeeded."""
        self.counters.invocations += 1
        try:
            response = self.handler({"Records": records}, _Context())
        except Exception as exc:  # the function failed: the whole batch
            self.counters.failed_invocations += 1
            log.warning("Live batch failed: %s", type(exc).__name__)
            return 0
        failures = (
            (response or {}).get("batchItemFailures") or [] if self.settings.report_item_failures else []
        )
        if not failures:
            return None
        failed = {str(f.get("itemIdentifier")) for f in failures}
        for index, record in enumerate(records):
            if record["kinesis"]["sequenceNumber"] in failed:
                return index
        return 0  # an identifier that is not in the batch: Lambda retries the whole batch

    def process(self, records: list[dict[str, Any]], shard_id: str) -> None:
        pending = records
        for _ in range(self.settings.max_retries + 1):
            start = self._invoke(pending)
            if start is None:
                return
            whole = start == 0
            pending = pending[start:]
            if whole and self.settings.bisect and len(pending) > 1:
                half = len(pending) // 2
                self.process(pending[:half], shard_id)
                self.process(pending[half:], shard_id)
                return
        self._give_up(pending, shard_id)

    def _give_up(self, records: list[dict[str, Any]], shard_id: str) -> None:
        first, last = records[0]["kinesis"], records[-1]["kinesis"]
        message = {
            "requestContext": {
                "requestId": "local",
                "functionArn": _Context.invoked_function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.settings.max_retries + 1,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["sequenceNumber"],
                "endSequenceNumber": last["sequenceNumber"],
                "approximateArrivalOfFirstRecord": first["approximateArrivalTimestamp"],
                "approximateArrivalOfLastRecord": last["approximateArrivalTimestamp"],
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.failures_queue_url, MessageBody=json.dumps(message))
        self.counters.sent_to_destination += len(records)

    # --- polling ------------------------------------------------------------------------------
    def _poll_shard(self, shard_id: str) -> None:
        iterator = self.kinesis.get_shard_iterator(
            StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType=self.starting_position
        )["ShardIterator"]
        while not self._stop.is_set() and iterator:
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=self.settings.batch_size)
            iterator = response.get("NextShardIterator")
            raw = response.get("Records", [])
            if not raw:
                self._stop.wait(self.settings.poll_interval_s)
                continue
            records = [lambda_record(r, shard_id, self.stream_arn, self.region) for r in raw]
            self.counters.records_in += len(records)
            self.process(records, shard_id)

    def start(self) -> ShardPoller:
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        for shard in shards:
            thread = threading.Thread(target=self._poll_shard, args=(shard["ShardId"],), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

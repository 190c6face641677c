import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ChunkQueue } from '../alerts/fanout';

/** SendMessageBatch's own limits: entries per call, and bytes of all their bodies together. */
const SEND_BATCH_LIMIT = 10;
const SEND_BATCH_BYTES = 256 * 1024;

/**
 * The alert chunk queue (FIFO): each chunk a message of its group, deduplicated by its chunk id
 * (hashed: a MessageDeduplicationId is at most 128 characters). Entries SQS refuses fail the
 * call, so the stream record is retried; the entries it took are then dropped as duplicates.
 */
export function sqsAlertChunks(sqs: SQSClient, queueUrl: string): ChunkQueue {
  return {
    async send(chunks) {
      // Consecutive chunks per call, up to both limits (a chunk's body stays well under the per-message limit).
      const batches: Array<Array<{ chunk: (typeof chunks)[number]; body: string }>> = [];
      let bytes = 0;
      for (const chunk of chunks) {
        const body = JSON.stringify({ alert: chunk.alert, recipients: chunk.recipients, connections: chunk.connections });
        const size = Buffer.byteLength(body);
        const current = batches.at(-1);
        if (current === undefined || current.length === SEND_BATCH_LIMIT || bytes + size > SEND_BATCH_BYTES) {
          batches.push([{ chunk, body }]);
          bytes = size;
        } else {
          current.push({ chunk, body });
          bytes += size;
        }
      }
      const calls = batches.map((batch) =>
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map(({ chunk, body }, index) => ({
              Id: String(index),
              MessageBody: body,
              MessageGroupId: chunk.group,
              MessageDeduplicationId: createHash('sha256').update(chunk.chunkId).digest('hex'),
            })),
          }),
        ),
      );
      // In parallel: groups are independent, and within a group the chunks of one call keep their order.
      for (const { Failed = [] } of await Promise.all(calls)) {
        if (Failed.length > 0) {
          throw new Error(`SQS refused ${Failed.length} alert chunks; the first: ${Failed[0]?.Code} ${Failed[0]?.Message ?? ''}`.trim());
        }
      }
    },
  };
}

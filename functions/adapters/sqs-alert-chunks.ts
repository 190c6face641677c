import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ChunkQueue } from '../alerts/fanout';

/** SendMessageBatch's own limit on entries per call. */
const SEND_BATCH_LIMIT = 10;

/**
 * The alert chunk queue (FIFO): each chunk a message of its group, deduplicated by its chunk id
 * (hashed: a MessageDeduplicationId is at most 128 characters). Entries SQS refuses fail the
 * call, so the stream record is retried; the entries it took are then dropped as duplicates.
 */
export function sqsAlertChunks(sqs: SQSClient, queueUrl: string): ChunkQueue {
  return {
    async send(chunks) {
      const calls = [];
      for (let start = 0; start < chunks.length; start += SEND_BATCH_LIMIT) {
        const entries = chunks.slice(start, start + SEND_BATCH_LIMIT).map((chunk, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify({ alert: chunk.alert, recipients: chunk.recipients }),
          MessageGroupId: chunk.group,
          MessageDeduplicationId: createHash('sha256').update(chunk.chunkId).digest('hex'),
        }));
        calls.push(sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })));
      }
      // In parallel: groups are independent, and within a group the chunks of one call keep their order.
      for (const { Failed = [] } of await Promise.all(calls)) {
        if (Failed.length > 0) {
          throw new Error(`SQS refused ${Failed.length} alert chunks; the first: ${Failed[0]?.Code} ${Failed[0]?.Message ?? ''}`.trim());
        }
      }
    },
  };
}

import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { countMetric, logger } from './instrumentation';
import * as z from './validation';

/**
 * Handles a DynamoDB stream batch one record at a time, in stream order (so one item's versions
 * arrive in order), with the failure policy every Herald stream consumer shares (ReportBatchItemFailures,
 * bisect on error, bounded retries and record age, a failure queue: lib/infra/stream-source.ts).
 *
 * The first failure ends the batch. A partial failure retries from that record with everything
 * after it (a stream's checkpoint cannot skip it), and when retries run out they all go to the
 * failure queue together. Failing a batch that starts with the record makes Lambda bisect it
 * instead, until a record that keeps failing is alone: only it is given up on, and the records
 * after it are handled (those before are handled again, so `handle` must be idempotent).
 */
export async function handleInStreamOrder(
  event: DynamoDBStreamEvent,
  handle: (record: DynamoDBRecord) => Promise<void>,
  failure: { readonly message: string; readonly metric: string },
): Promise<DynamoDBBatchResponse> {
  for (const [index, record] of event.Records.entries()) {
    try {
      await handle(record);
    } catch (error) {
      logger.error(failure.message, {
        sequenceNumber: record.dynamodb?.SequenceNumber,
        error: error instanceof z.core.$ZodError ? z.describeIssues(error) : (error as Error),
      });
      countMetric(failure.metric);
      if (index === 0 && event.Records.length > 1)
        throw new Error(`Record ${record.dynamodb?.SequenceNumber} failed first in a batch of ${event.Records.length}: bisecting`);
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
}

import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { assignmentDeps } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import * as z from '#functions/shared/validation';
import { notifyAssignment, type AssignmentDeps, type AssignmentNotice } from '../assignments';

/** What the consumer reads of a record item: its scope key (tenant#scope), identity, version and the assignee this version named. */
const assignedItemSchema = z.object({
  pk: z.string().check(z.regex(/^.+#[^#]+$/)),
  collection: z.string(),
  id: z.string(),
  version: z.number(),
  assignedTo: z.string(),
});

/**
 * The Records stream's consumer (filtered to items that carry `assignedTo`: lib/description/).
 * Each record notifies its assignee through deliver(), whose dedupe key per version makes a
 * retried or re-read record harmless. The first failure ends the batch and Lambda retries from it;
 * failing first in a batch of several makes Lambda bisect instead, so only a record that keeps
 * failing reaches the failure queue.
 */
export function makeHandler(deps: AssignmentDeps) {
  return instrument(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    for (const [index, record] of event.Records.entries()) {
      try {
        const notice = assignmentOf(record);
        if (notice === undefined) continue;
        const outcome = await notifyAssignment(deps, notice);
        if (outcome === 'notified') countMetric('RecordAssignmentsNotified');
      } catch (error) {
        logger.error('Record assignment notification failed', {
          sequenceNumber: record.dynamodb?.SequenceNumber,
          error: error instanceof z.core.$ZodError ? z.describeIssues(error) : (error as Error),
        });
        countMetric('RecordAssignmentFailures');
        if (index === 0 && event.Records.length > 1)
          throw new Error(`Record ${record.dynamodb?.SequenceNumber} failed first in a batch of ${event.Records.length}: bisecting`);
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  });
}

/** The assignment a stream record carries; undefined for an item without one (the filter passes none deployed). */
export function assignmentOf(record: DynamoDBRecord): AssignmentNotice | undefined {
  const image = record.dynamodb?.NewImage;
  if (image === undefined || image.assignedTo === undefined) return undefined;
  const item = assignedItemSchema.parse(unmarshall(image as Record<string, SdkAttributeValue>));
  // Scope names are topics, which hold no `#`: the last one splits the key.
  const split = item.pk.lastIndexOf('#');
  return {
    tenant: item.pk.slice(0, split),
    scope: item.pk.slice(split + 1),
    collection: item.collection,
    id: item.id,
    version: item.version,
    assignee: item.assignedTo,
  };
}

export const handler = makeHandler(assignmentDeps());

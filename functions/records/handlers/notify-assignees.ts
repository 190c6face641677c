import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { assignmentDeps } from '#functions/adapters/wiring';
import { countMetric, instrument } from '#functions/shared/instrumentation';
import { handleInStreamOrder } from '#functions/shared/stream-batch';
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
 * retried or re-read record harmless; a failure retries or bisects (functions/shared/stream-batch.ts),
 * so only a record that keeps failing reaches the failure queue.
 */
export function makeHandler(deps: AssignmentDeps) {
  return instrument(
    async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
      handleInStreamOrder(
        event,
        async (record) => {
          const notice = assignmentOf(record);
          if (notice === undefined) return;
          if ((await notifyAssignment(deps, notice)) === 'notified') countMetric('RecordAssignmentsNotified');
        },
        { message: 'Record assignment notification failed', metric: 'RecordAssignmentFailures' },
      ),
  );
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

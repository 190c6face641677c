/**
 * Offline-first records: push, pull, conflicts and a device's status over HTTP (docs/sync.md).
 * Every route checks the caller's membership of the scope (a topic) first.
 */
import { claimSettings, deliverAccess, mergeAccess, topicEventAccess, type Access, type FunctionSpec } from './access';

/** The scope's membership, the declarations and the retention: what every records route reads. */
const syncAccess: Access = {
  tables: { memberships: ['GetItem'] },
  settings: [...claimSettings, 'recordCollections', 'recordRetentionDays'],
};

/**
 * Writing a batch: the counter, the records and the op answers read in one consistent
 * BatchGetItem, written in one transaction (Put of records and answers, Update of the counter);
 * the device row updated; the change pushed to the scope's live subscribers who are still members.
 * A new assignee is notified from the Records stream (notifyRecordAssignees), not from here.
 */
const commitAccess = mergeAccess(syncAccess, topicEventAccess, {
  // Memberships again for the subscribers (BatchGetItem): a user who left the scope gets no more frames.
  tables: { records: ['BatchGetItem', 'PutItem', 'UpdateItem'], memberships: ['BatchGetItem'] },
});

export const recordsFunctions = {
  pushRecords: {
    entry: 'functions/records/handlers/push.ts',
    description: "Applies a batch of a device's offline ops to a scope's records, field by field by each field's strategy",
    trigger: { kind: 'http', method: 'POST', path: '/records/{scope}/push', auth: 'jwt' },
    ...commitAccess,
  },
  pullRecords: {
    entry: 'functions/records/handlers/pull.ts',
    description: "Returns a scope's record changes after a cursor, in pages (or reset when the cursor is past retention)",
    trigger: { kind: 'http', method: 'GET', path: '/records/{scope}/changes', auth: 'jwt' },
    // The bySeq index, read consistently; the device row records the pull.
    ...mergeAccess(syncAccess, { tables: { records: ['QueryIndex', 'UpdateItem'] } }),
  },
  listRecordConflicts: {
    entry: 'functions/records/handlers/list-conflicts.ts',
    description: "Lists a scope's open manual conflicts",
    trigger: { kind: 'http', method: 'GET', path: '/records/{scope}/conflicts', auth: 'jwt' },
    ...mergeAccess(syncAccess, { tables: { records: ['QueryIndex'] } }),
  },
  resolveRecordConflict: {
    entry: 'functions/records/handlers/resolve.ts',
    description: "Resolves a record field's manual conflicts (mine, theirs or an edit) as a new version",
    trigger: { kind: 'http', method: 'POST', path: '/records/{scope}/{collection}/{id}/resolve', auth: 'jwt' },
    ...commitAccess,
  },
  getRecordDevice: {
    entry: 'functions/records/handlers/device.ts',
    description: "A device's sync status in a scope: last pull, last push, pending ops, open conflicts",
    trigger: { kind: 'http', method: 'GET', path: '/records/{scope}/devices/{deviceId}', auth: 'jwt' },
    ...mergeAccess(syncAccess, { tables: { records: ['GetItem', 'QueryIndex'] } }),
  },
  notifyRecordAssignees: {
    entry: 'functions/records/handlers/notify-assignees.ts',
    description: 'Notifies the member a committed record version newly assigned, from the Records stream, once per version',
    trigger: {
      kind: 'stream',
      table: 'records',
      batchSize: 25,
      retryAttempts: 5,
      maxRecordAgeSeconds: 3_600,
      bisectBatchOnError: true,
      startingPosition: 'LATEST',
      onFailure: 'recordAssignments',
      // Only a version that newly assigned someone carries assignedTo (functions/records/assignments.ts);
      // other record changes, op answers, counters, device rows and TTL deletions invoke nothing.
      filterPatterns: [{ eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { assignedTo: { S: [{ exists: true }] } } } }],
    },
    // The assignee's membership of the scope, then deliver() with a dedupe key per record version.
    ...mergeAccess(deliverAccess, { tables: { memberships: ['GetItem'] } }),
  },
} as const satisfies Record<string, FunctionSpec>;

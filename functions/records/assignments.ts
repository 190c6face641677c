/**
 * Assignment notifications, made durable by the Records table's stream (docs/sync.md,
 * "Assignment notifications"). The commit that newly assigns a record writes the assignee on the
 * record's item (`assignedTo`, on that version only); the stream's consumer notifies them through
 * deliver(), with a dedupe key per record version. Which version newly assigns is decided at the
 * commit (sync.ts newAssignee). So a push whose function dies after its commit
 * still notifies, and a consumer retried after deliver() committed notifies once.
 */
import type { DeliveryRequest } from '../notifications/model';
import { logger } from '../shared/instrumentation';
import type { MembershipStore } from '../topics/topics';

/** One committed version that assigned a record, as the stream carries it. */
export interface AssignmentNotice {
  readonly tenant: string;
  readonly scope: string;
  readonly collection: string;
  readonly id: string;
  readonly version: number;
  readonly assignee: string;
}

export interface AssignmentDeps {
  readonly memberships: Pick<MembershipStore, 'isMember'>;
  readonly deliver: (requests: readonly DeliveryRequest[]) => Promise<unknown>;
}

/** The notification of one assignment, or nothing for a non-member (they could not open the record anyway). */
export async function notifyAssignment(deps: AssignmentDeps, notice: AssignmentNotice): Promise<'notified' | 'not-a-member'> {
  if (!(await deps.memberships.isMember(notice.tenant, notice.scope, notice.assignee))) {
    logger.info('Record assigned to a non-member; not notified', { scope: notice.scope, collection: notice.collection, id: notice.id });
    return 'not-a-member';
  }
  await deps.deliver([
    {
      recipient: { tenant: notice.tenant, userId: notice.assignee },
      kind: 'record.assigned',
      title: `Assigned to you: ${notice.collection} ${notice.id}`,
      data: { scope: notice.scope, collection: notice.collection, id: notice.id, version: notice.version },
      priority: 'normal',
      // A stream record is delivered at least once (retries, bisection): one version notifies once.
      dedupeKey: `record-assigned#${notice.scope}#${notice.collection}#${notice.id}#${notice.version}`,
    },
  ]);
  return 'notified';
}

import { claimNamesFromEnv, deliverDeps } from '#functions/adapters/wiring';
import { requireRole, type ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody } from '#functions/shared/http';
import * as z from '#functions/shared/validation';
import { deliver, type DeliverDeps } from '../deliver';
import { dedupeKeySchema, notificationContentSchema } from '../model';

export interface PublishNotificationDeps extends DeliverDeps {
  readonly claims: ClaimNames;
}

const body = z.strictObject({
  ...notificationContentSchema.shape,
  userId: z.string().check(z.regex(/^[A-Za-z0-9._:@+-]{1,128}$/, 'must be 1-128 letters, digits or ._:@+-')),
  dedupeKey: z.optional(dedupeKeySchema),
});

/** `POST /notifications` (role publisher): one notification to one user of the caller's tenant. */
export function makeHandler(deps: PublishNotificationDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    requireRole(caller, 'publisher');
    const { userId, ...request } = parseJsonBody(event, body);
    const [outcome] = await deliver(deps, [{ ...request, recipient: { tenant: caller.tenant, userId } }]);
    // A user's address is theirs: a publisher learns whether email is wanted, not where it goes.
    const { emailTo: _address, ...answer } = outcome!;
    return json(202, answer);
  });
}

export const handler = makeHandler({ ...deliverDeps(), claims: claimNamesFromEnv() });

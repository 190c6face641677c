import { alertDeps, claimNamesFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { BadRequestError, HeraldError } from '#functions/shared/errors';
import { callerRoute, json, parseJsonBody, pathParameters, type HttpEvent } from '#functions/shared/http';
import { updateAlert, type AlertDeps } from '../alerts';
import { alertPathSchema, alertView, updateAlertSchema } from '../model';

export interface UpdateAlertDeps extends AlertDeps {
  readonly claims: ClaimNames;
}

/** `PATCH /alerts/{id}` with `If-Match: <version>`: acknowledge, resolve, reopen or reassign. */
export function makeHandler(deps: UpdateAlertDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const id = pathParameters(event, alertPathSchema).id;
    const version = ifMatchVersion(event);
    const input = parseJsonBody(event, updateAlertSchema);
    const { alert } = await updateAlert(deps, caller, id, version, input);
    return json(200, alertView(alert), { etag: `"${alert.version}"` });
  });
}

/** `If-Match: 3`, `"3"` or `W/"3"`: the version the caller read. Without it a PATCH could undo someone else's. */
function ifMatchVersion(event: HttpEvent): number {
  const header = event.headers?.['if-match'];
  if (header === undefined || header.trim() === '') {
    throw new HeraldError(428, 'precondition_required', 'If-Match: give the version you read (the ETag of GET /alerts/{id})');
  }
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!match) throw new BadRequestError(`If-Match: must be an alert version such as "3", got ${JSON.stringify(header.slice(0, 40))}`, 'invalid_header');
  return Number(match[1]);
}

export const handler = makeHandler({ ...alertDeps(), claims: claimNamesFromEnv() });

import { exportFilesFromEnv, exportStoreFromEnv, linkKeyRingFromEnv } from '#functions/adapters/wiring';
import type { LinkKeyRing } from '#functions/adapters/link-key';
import { GoneError, HeraldError, NotFoundError } from '#functions/shared/errors';
import { httpRoute, type HttpEvent, pathParameters } from '#functions/shared/http';
import { countMetric, instrument } from '#functions/shared/instrumentation';
import { verifyLink } from '../links';
import { parseRunId, exportPathSchema } from '../model';
import type { ExportStore } from '../store';
import type { ExportFiles } from '../worker';

export interface DownloadDeps {
  readonly store: ExportStore;
  readonly files: Pick<ExportFiles, 'presign'>;
  /** The current and previous link keys (functions/adapters/link-key.ts). */
  readonly linkKeys: Pick<LinkKeyRing, 'keys' | 'refresh'>;
  readonly now?: () => Date;
}

class LinkRefusedError extends HeraldError {
  constructor(message: string) {
    super(403, 'link_refused', message);
  }
}

/**
 * `GET /exports/runs/{id}/download?token=`: no JWT (it is opened from an email), so the signed
 * token is the credential. A good token answers 302 to a fresh five-minute pre-signed URL; a
 * tampered, expired or retired-key one 403; a run or file that no longer exists 404; a link whose
 * schedule was deleted 410, because deleting a schedule withdraws the links its runs emailed.
 */
export function makeHandler(deps: DownloadDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const runId = pathParameters(event, exportPathSchema).id;
      const token = event.queryStringParameters?.token ?? '';
      const now = deps.now?.() ?? new Date();
      let check = verifyLink(await deps.linkKeys.keys(), token, runId, now);
      // A key newer than this warm function's copy (the key was rotated): read the keys again.
      if (!check.ok && check.reason === 'unknown_key') check = verifyLink(await deps.linkKeys.refresh(), token, runId, now);
      if (!check.ok) {
        countMetric('ExportLinksRefused');
        throw new LinkRefusedError(
          check.reason === 'expired'
            ? 'This download link has expired'
            : check.reason === 'unknown_key'
              ? 'This download link was signed with a key that has since been retired'
              : 'This download link is not valid',
        );
      }
      const parsed = parseRunId(runId);
      const owner = { tenant: check.claims.tenant, userId: check.claims.owner };
      const run = parsed && (await deps.store.getRun(owner, parsed.scheduleId, parsed.scheduledAt));
      if (!run?.objectKey || (run.fileExpiresAt && Date.parse(run.fileExpiresAt) <= now.getTime())) throw new NotFoundError('No such export file');
      if (!(await deps.store.getSchedule(owner, run.scheduleId))) {
        throw new GoneError('The export schedule of this link was deleted, and its download links with it', 'export_deleted');
      }
      return { statusCode: 302, headers: { location: await deps.files.presign(run.objectKey), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } };
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), files: exportFilesFromEnv(), linkKeys: await linkKeyRingFromEnv() });

import { exportFilesFromEnv, exportStoreFromEnv, linkKeyFromEnv } from '#functions/adapters/wiring';
import { HeraldError, NotFoundError } from '#functions/shared/errors';
import { httpRoute, type HttpEvent, pathParameters } from '#functions/shared/http';
import { countMetric, instrument } from '#functions/shared/instrumentation';
import { verifyLink } from '../links';
import { parseRunId, exportPathSchema } from '../model';
import type { ExportStore } from '../store';
import type { ExportFiles } from '../worker';

export interface DownloadDeps {
  readonly store: ExportStore;
  readonly files: Pick<ExportFiles, 'presign'>;
  readonly linkKey: Buffer;
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
 * tampered or expired one 403; a run or file that no longer exists 404.
 */
export function makeHandler(deps: DownloadDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const runId = pathParameters(event, exportPathSchema).id;
      const token = event.queryStringParameters?.token ?? '';
      const now = deps.now?.() ?? new Date();
      const check = verifyLink(deps.linkKey, token, runId, now);
      if (!check.ok) {
        countMetric('ExportLinksRefused');
        throw new LinkRefusedError(check.reason === 'expired' ? 'This download link has expired' : 'This download link is not valid');
      }
      const parsed = parseRunId(runId);
      const run = parsed && (await deps.store.getRun({ tenant: check.claims.tenant, userId: check.claims.owner }, parsed.scheduleId, parsed.scheduledAt));
      if (!run?.objectKey || (run.fileExpiresAt && Date.parse(run.fileExpiresAt) <= now.getTime())) throw new NotFoundError('No such export file');
      return { statusCode: 302, headers: { location: await deps.files.presign(run.objectKey), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } };
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), files: exportFilesFromEnv(), linkKey: await linkKeyFromEnv() });

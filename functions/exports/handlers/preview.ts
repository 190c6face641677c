import { claimNamesFromEnv, datasetsFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { BadRequestError } from '../../shared/errors';
import { httpRoute, json, parseJsonBody, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import type { DatasetSource } from '../datasets';
import { previewBody, validateFilterRange } from '../model';

export interface PreviewDeps {
  readonly datasets: DatasetSource;
  readonly claims: ClaimNames;
}

/** `POST /exports/preview {dataset, filters?, limit?}`: the columns and first rows an export would hold. */
export function makeHandler(deps: PreviewDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const body = parseJsonBody(event, previewBody);
      const problem = validateFilterRange(body.filters);
      if (problem) throw new BadRequestError(problem, 'invalid_body');
      const limit = body.limit ?? 10;
      const rows: unknown[] = [];
      for await (const row of deps.datasets.rows(body.dataset, caller, body.filters ?? {})) {
        rows.push(row);
        if (rows.length >= limit) break;
      }
      return json(200, { columns: deps.datasets.columns(body.dataset), rows });
    }),
  );
}

export const handler = makeHandler({ datasets: datasetsFromEnv(), claims: claimNamesFromEnv() });

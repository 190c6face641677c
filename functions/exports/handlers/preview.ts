import { claimNamesFromEnv, datasetsFromEnv, exportRecordsFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { BadRequestError } from '#functions/shared/errors';
import { callerRoute, json, parseJsonBody } from '#functions/shared/http';
import { assertMayExport, type DatasetSource, type RecordsTable } from '../datasets';
import { previewBody, validateFilters } from '../model';

export interface PreviewDeps {
  readonly datasets: DatasetSource;
  readonly claims: ClaimNames;
  /** The records table, whose export needs a role (datasets.ts assertMayExport). */
  readonly records: RecordsTable | undefined;
}

/** `POST /exports/preview {dataset, filters?, limit?}`: the columns and first rows an export would hold. */
export function makeHandler(deps: PreviewDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const body = parseJsonBody(event, previewBody);
    const filters = body.filters ?? {};
    assertMayExport(body.dataset, filters, caller.roles, deps.records);
    const problem = validateFilters(body.dataset, filters);
    if (problem) throw new BadRequestError(problem, 'invalid_body');
    const limit = body.limit ?? 10;
    // The caller with their roles: a preview is a live call, unlike a scheduled run.
    const { columns, rows: source } = await deps.datasets.open(body.dataset, caller, filters);
    const rows: unknown[] = [];
    for await (const row of source) {
      // Records rows have no prototype; a plain object serializes the same and reads better in tests.
      rows.push({ ...row });
      if (rows.length >= limit) break;
    }
    return json(200, { columns, rows });
  });
}

export const handler = makeHandler({ datasets: datasetsFromEnv(), claims: claimNamesFromEnv(), records: exportRecordsFromEnv() });

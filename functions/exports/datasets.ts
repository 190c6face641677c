import type { ExportColumn, ExportRow } from './formats';
import type { Dataset, ExportFilters } from './model';
import type { Owner } from './store';

/**
 * Where an export's rows come from: pages of a DynamoDB Query, yielded row by row so the
 * formatter pulls the next page only when it needs it. Nothing here holds more than one page.
 */
export interface DatasetSource {
  columns(dataset: Dataset): readonly ExportColumn[];
  rows(dataset: Dataset, owner: Owner, filters: ExportFilters): AsyncIterable<ExportRow>;
}

export const NOTIFICATION_COLUMNS: readonly ExportColumn[] = [
  { key: 'seq', header: 'Seq' },
  { key: 'id', header: 'Id' },
  { key: 'createdAt', header: 'Created at' },
  { key: 'kind', header: 'Kind' },
  { key: 'priority', header: 'Priority' },
  { key: 'title', header: 'Title' },
  { key: 'body', header: 'Body' },
  { key: 'read', header: 'Read' },
  { key: 'data', header: 'Data' },
];

/** Counts rows as they pass, for progress and the run record. */
export async function* counted(rows: AsyncIterable<ExportRow>, onRow: (count: number) => void): AsyncGenerator<ExportRow> {
  let count = 0;
  for await (const row of rows) {
    onRow(++count);
    yield row;
  }
}

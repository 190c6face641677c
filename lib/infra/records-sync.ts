import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { parseCollectionDeclarations, type CollectionDeclarations } from '../../functions/records/collections';
import { InvalidPropsError, requireInteger, withDefaults } from './support';

export interface RecordsSyncProps {
  /** The table records, their change counter, op answers and device rows live in (HeraldData's `records`). */
  readonly recordsTable: Table;
  /**
   * Collections and each field's merge strategy (docs/sync.md, "Declaring a collection").
   * @default none: every collection syncs with every field last-writer-wins
   */
  readonly collections?: CollectionDeclarations;
  /**
   * Days tombstones, op answers and device rows are kept; an older pull cursor answers `reset`.
   * @default 30
   */
  readonly retentionDays?: number;
}

const DEFAULTS = { collections: {}, retentionDays: 30 } satisfies Partial<RecordsSyncProps>;

/**
 * Offline-first records sync, apart from its functions: the records table it works on, and the
 * deployment's collection declarations and retention, validated here so a bad declaration fails
 * synth. `HeraldFunctions` gives the
 * sync functions these as settings and attaches them to the HTTP API.
 */
export class RecordsSync extends Construct {
  public readonly recordsTable: Table;
  public readonly collections: CollectionDeclarations;
  public readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: RecordsSyncProps) {
    super(scope, id);
    const merged = withDefaults(DEFAULTS, props);
    requireInteger(this, 'retentionDays', merged.retentionDays, 1, 365);
    const parsed = parseCollectionDeclarations(JSON.stringify(merged.collections));
    if (!parsed.ok) throw new InvalidPropsError(this, 'collections', `is not a valid declaration: ${parsed.problem}.`);
    this.recordsTable = merged.recordsTable;
    this.collections = parsed.value;
    this.retentionDays = merged.retentionDays;
  }
}

import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { tableOperations, tables as describedTables, type TableAccess, type TableName, type TableSpec } from '../description';
import { InvalidPropsError, mapRecord, pascal, requireMatch, withDefaults } from './support';
import { createTable } from './tables';

export interface HeraldDataProps {
  /**
   * The tables, by the names the functions know them by. Every table is on-demand, recoverable to
   * a point in time, retained and deletion-protected whatever its spec says (lib/infra/tables.ts).
   * @default the tables of lib/description/, exactly as described there
   */
  readonly tables?: Readonly<Record<TableName, TableSpec>>;
}

const DEFAULTS = { tables: describedTables } satisfies Required<HeraldDataProps>;

/** DynamoDB's own limits, checked at synth so a bad spec fails before a deploy does. */
const MAX_GLOBAL_INDEXES = 20;
const MAX_LOCAL_INDEXES = 5;
const INDEX_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * Herald's state: one DynamoDB table per table of the description (connections, notifications,
 * alerts, exports...). Everything else reads and writes these through the grants below.
 */
export class HeraldData extends Construct {
  /** Each table by its description name. */
  public readonly tables: Record<TableName, Table>;
  /** The spec each table was built from. */
  public readonly specs: Readonly<Record<TableName, TableSpec>>;

  constructor(scope: Construct, id: string, props: HeraldDataProps = {}) {
    super(scope, id);
    const merged = withDefaults(DEFAULTS, props);
    this.specs = merged.tables;
    for (const [name, spec] of Object.entries<TableSpec>(this.specs)) this.validate(name, spec);
    // `<Name>Table`: the construct ids Herald's tables have always had (their logical ids depend on them).
    this.tables = mapRecord(this.specs, (spec, name) => createTable(this, `${pascal(name)}Table`, spec));
  }

  /**
   * Lets `grantee` perform exactly the item operations `access` names on the table: on the table,
   * and Query on its secondary indexes for QueryIndex. CDK's grantReadData and grantWriteData would
   * add Scan, BatchWriteItem, DescribeTable and the stream actions, which no Herald function calls
   * (docs/local-iam.md). Returns the index grant, whose wildcard (`<table ARN>/index/*`) cdk-nag
   * reports, so the caller can acknowledge it on its own policy.
   */
  public grantTableAccess(name: TableName, grantee: IGrantable, access: TableAccess): Grant | undefined {
    const table = this.tables[name];
    const spec: TableSpec = this.specs[name];
    const operations = tableOperations(access);
    const onTable = operations.filter((operation) => operation !== 'QueryIndex');
    if (onTable.length > 0) Grant.addToPrincipal({ grantee, actions: onTable.map((operation) => `dynamodb:${operation}`), resourceArns: [table.tableArn] });
    if (!operations.includes('QueryIndex')) return undefined;
    if ((spec.indexes?.length ?? 0) + (spec.localIndexes?.length ?? 0) === 0) {
      // A level reads whatever the table has; a list naming QueryIndex expects an index.
      if (typeof access === 'string') return undefined;
      throw new Error(`QueryIndex on the ${table.node.id} table, which has no secondary index`);
    }
    return Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [`${table.tableArn}/index/*`] });
  }

  private validate(name: string, spec: TableSpec): void {
    const prop = `tables.${name}`;
    const global = spec.indexes ?? [];
    const local = spec.localIndexes ?? [];
    if (global.length > MAX_GLOBAL_INDEXES)
      throw new InvalidPropsError(this, prop, `has ${global.length} global secondary indexes; DynamoDB allows ${MAX_GLOBAL_INDEXES}.`);
    if (local.length > MAX_LOCAL_INDEXES)
      throw new InvalidPropsError(this, prop, `has ${local.length} local secondary indexes; DynamoDB allows ${MAX_LOCAL_INDEXES}.`);
    if (local.length > 0 && spec.sortKey === undefined) {
      throw new InvalidPropsError(this, prop, 'has local secondary indexes but no sort key; DynamoDB allows them only on a table with a sort key.');
    }
    const names = [...global, ...local].map((index) => index.name);
    for (const index of names) requireMatch(this, `${prop} index name`, index, INDEX_NAME, '3-255 letters, digits, _ . -');
    const duplicate = names.find((index, position) => names.indexOf(index) !== position);
    if (duplicate !== undefined) throw new InvalidPropsError(this, prop, `names the index "${duplicate}" twice.`);
    const keys = [spec.partitionKey.name, spec.sortKey?.name].filter((key) => key !== undefined);
    if (spec.ttlAttribute !== undefined && keys.includes(spec.ttlAttribute)) {
      throw new InvalidPropsError(this, prop, `expires on its key attribute "${spec.ttlAttribute}"; TTL needs a plain number attribute.`);
    }
  }
}

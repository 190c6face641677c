import { BatchGetCommand, QueryCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import pMap from 'p-map';

/** BatchGetItem's own limit on keys per call, across all its tables. */
const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_ROUNDS = 8;
/** BatchGetItem calls of one read in flight at once: a 1,000-user fan-out's 40 calls take about four round trips, not 40. */
const BATCH_GET_CONCURRENCY = 10;

/** The keys to read from one table, and how. */
export interface TableKeys {
  readonly table: string;
  readonly keys: ReadonlyArray<Record<string, unknown>>;
  readonly consistent?: boolean;
  readonly projection?: string;
}

/**
 * Reads many items of several tables with multi-table BatchGetItem calls of up to 100 keys, the
 * calls in parallel, retrying the keys DynamoDB leaves unprocessed under load (with jittered
 * backoff) until every key is answered. Returns each table's items, by table name.
 */
export async function batchGetTables(client: DynamoDBDocumentClient, reads: readonly TableKeys[]): Promise<Map<string, Array<Record<string, any>>>> {
  const options = new Map(reads.map((read) => [read.table, { ConsistentRead: read.consistent, ProjectionExpression: read.projection }]));
  const results = new Map<string, Array<Record<string, any>>>(reads.map((read) => [read.table, []]));
  // Keys in call-sized slices; a slice may span tables, each with its own ConsistentRead and projection.
  const flat = reads.flatMap((read) => read.keys.map((key) => ({ table: read.table, key })));
  const calls: Array<typeof flat> = [];
  for (let start = 0; start < flat.length; start += BATCH_GET_LIMIT) calls.push(flat.slice(start, start + BATCH_GET_LIMIT));

  await pMap(
    calls,
    async (call) => {
      let requestItems: Record<string, { Keys: Array<Record<string, unknown>> }> | undefined = groupByTable(call);
      for (let round = 0; requestItems && Object.keys(requestItems).length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS) {
          throw new Error(`BatchGetItem left keys of ${Object.keys(requestItems).join(', ')} unprocessed after ${round} rounds`);
        }
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** round));
        const result: BatchGetCommandOutput = await client.send(
          new BatchGetCommand({
            RequestItems: Object.fromEntries(Object.entries(requestItems).map(([table, { Keys }]) => [table, { Keys, ...options.get(table) }])),
          }),
        );
        for (const [table, items] of Object.entries(result.Responses ?? {})) results.get(table)?.push(...items);
        requestItems = result.UnprocessedKeys as typeof requestItems;
      }
    },
    { concurrency: BATCH_GET_CONCURRENCY },
  );
  return results;
}

function groupByTable(call: ReadonlyArray<{ table: string; key: Record<string, unknown> }>): Record<string, { Keys: Array<Record<string, unknown>> }> {
  const grouped: Record<string, { Keys: Array<Record<string, unknown>> }> = {};
  for (const { table, key } of call) (grouped[table] ??= { Keys: [] }).Keys.push(key);
  return grouped;
}

/** Many items of one table: batchGetTables with a single table. */
export async function batchGet(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: ReadonlyArray<Record<string, unknown>>,
  options: { consistent?: boolean; projection?: string } = {},
): Promise<Array<Record<string, any>>> {
  const results = await batchGetTables(client, [{ table: tableName, keys, ...options }]);
  return results.get(tableName) ?? [];
}

/** Every item a Query matches, following LastEvaluatedKey page by page. */
export async function queryAll(client: DynamoDBDocumentClient, input: Omit<QueryCommandInput, 'ExclusiveStartKey'>): Promise<Array<Record<string, any>>> {
  const items: Array<Record<string, any>> = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: exclusiveStartKey }));
    items.push(...(page.Items ?? []));
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey);
  return items;
}

import { BatchGetCommand, QueryCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

/** BatchGetItem's own limit on keys per call. */
const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_ROUNDS = 8;

/**
 * Reads many items of one table in BatchGetItem calls of 100 keys, retrying the keys DynamoDB
 * leaves unprocessed under load (with backoff), so callers never make one request per key.
 */
export async function batchGet(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: ReadonlyArray<Record<string, unknown>>,
  options: { consistent?: boolean; projection?: string } = {},
): Promise<Array<Record<string, any>>> {
  const items: Array<Record<string, any>> = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
    let requestKeys: Array<Record<string, unknown>> | undefined = keys.slice(start, start + BATCH_GET_LIMIT);
    for (let round = 0; requestKeys && requestKeys.length > 0; round++) {
      if (round >= MAX_UNPROCESSED_ROUNDS) throw new Error(`BatchGetItem on ${tableName} left keys unprocessed after ${round} rounds`);
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** round));
      const result: BatchGetCommandOutput = await client.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: { Keys: requestKeys, ConsistentRead: options.consistent, ProjectionExpression: options.projection },
          },
        }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      requestKeys = result.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return items;
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

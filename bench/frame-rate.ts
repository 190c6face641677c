/**
 * DynamoDB requests per client frame of the per-socket frame rate limit: today's in-memory meter
 * with an occasional amortised write (functions/realtime/frame-rate.ts) against the limiter it
 * replaced, one to three conditional UpdateItems on every frame (legacyCountFrame below, as it was
 * in functions/adapters/dynamo-connection-store.ts), both on the same DynamoDB Local table through
 * a request-counting client in the same run. A simulated clock walks the 10-second windows, so the
 * figures are counts, not times. Also prints how many frames of a flood each lets through.
 */
import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localTableName } from '../lib/local/resources';
import { startLocalRuntime } from '../lib/local/runtime';
import { row } from './stats';
import { countRequests } from './wire';

/** Frames per window and windows, per pattern; each frame is counted as a route would count it. */
const PATTERNS = [
  { label: '1 frame/window (ping, ack)', framesPerWindow: 1, windows: 60 },
  { label: '6 frames/window', framesPerWindow: 6, windows: 30 },
  { label: '30 frames/window', framesPerWindow: 30, windows: 10 },
  { label: '60 frames/window (the limit)', framesPerWindow: 60, windows: 5 },
] as const;
const FLOOD_FRAMES = 500;
const FLOOD_CONTAINERS = 4;

export async function benchFrameRate(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    // Imported once the runtime has set the environment Herald's modules read at import.
    const { dynamoConnectionStore } = await import('../functions/adapters/dynamo-connection-store');
    const { FrameMeter } = await import('../functions/realtime/frame-rate');
    const { FRAME_RATE_LIMIT } = await import('../functions/realtime/limits');
    const requests = countRequests(client);
    const db = DynamoDBDocumentClient.from(client);
    const table = localTableName('connections');
    const store = dynamoConnectionStore(db, { connections: table, userConnections: undefined });
    const newConnection = async () => {
      const connectionId = randomBytes(10).toString('base64');
      await db.send(new PutCommand({ TableName: table, Item: { connectionId, tenant: 'bench', userId: 'bench' } }));
      requests.count = 0;
      return connectionId;
    };
    const legacy = (connectionId: string, now: Date) => legacyCountFrame(db, table, connectionId, now, FRAME_RATE_LIMIT);

    console.log(
      `frame rate limit ${FRAME_RATE_LIMIT.frames} frames per ${FRAME_RATE_LIMIT.windowSeconds} s; the meter writes every ${FRAME_RATE_LIMIT.syncEvery} frames per container`,
    );
    console.log('baseline = the per-frame conditional UpdateItem limiter it replaced, same table, same run');
    for (const pattern of PATTERNS) {
      const frames = pattern.framesPerWindow * pattern.windows;
      const drive = async (count: (connectionId: string, now: Date) => Promise<'allowed' | 'limited'>) => {
        const connectionId = await newConnection();
        let limited = 0;
        for (let window = 0; window < pattern.windows; window += 1) {
          const now = new Date(Date.UTC(2026, 0, 1) + window * FRAME_RATE_LIMIT.windowSeconds * 1000);
          for (let frame = 0; frame < pattern.framesPerWindow; frame += 1) if ((await count(connectionId, now)) === 'limited') limited += 1;
        }
        if (limited > 0) throw new Error(`${pattern.label}: ${limited} frames limited under the limit`);
        return requests.count / frames;
      };
      const meter = new FrameMeter(store);
      const after = await drive((connectionId, now) => meter.count(connectionId, now));
      const before = await drive(legacy);
      console.log(row(`${pattern.label}: req/frame`, after, before, 'req'));
    }

    // A flood: frames in one window until the socket is refused, spread over several containers
    // (each its own meter, sharing the row) as Lambda spreads a busy socket's invocations.
    const now = new Date(Date.UTC(2026, 0, 2));
    const flood = async (count: (connectionId: string, container: number) => Promise<'allowed' | 'limited'>) => {
      const connectionId = await newConnection();
      let admitted = 0;
      for (let frame = 0; frame < FLOOD_FRAMES; frame += 1) {
        if ((await count(connectionId, frame % FLOOD_CONTAINERS)) === 'limited') break;
        admitted += 1;
      }
      return { admitted, perFrame: requests.count / (admitted + 1) };
    };
    const meters = Array.from({ length: FLOOD_CONTAINERS }, () => new FrameMeter(store));
    const floodAfter = await flood((connectionId, container) => meters[container]!.count(connectionId, now));
    const floodBefore = await flood((connectionId) => legacy(connectionId, now));
    console.log(row(`flood, ${FLOOD_CONTAINERS} containers: req/frame`, floodAfter.perFrame, floodBefore.perFrame, 'req'));
    console.log(row(`flood, ${FLOOD_CONTAINERS} containers: frames let in`, floodAfter.admitted, floodBefore.admitted, 'frames'));
  } finally {
    client.destroy();
    await runtime.stop();
  }
}

/** The limiter as it was before the meter: 1 to 3 conditional UpdateItems on every frame. */
async function legacyCountFrame(
  client: DynamoDBDocumentClient,
  table: string,
  connectionId: string,
  now: Date,
  limit: { readonly windowSeconds: number; readonly frames: number },
): Promise<'allowed' | 'limited'> {
  const windowStart = Math.floor(now.getTime() / 1000 / limit.windowSeconds) * limit.windowSeconds;
  const conditionally = async (command: UpdateCommand) => {
    try {
      await client.send(command);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  };
  const increment = () =>
    conditionally(
      new UpdateCommand({
        TableName: table,
        Key: { connectionId },
        UpdateExpression: 'ADD frameCount :one',
        ConditionExpression: 'attribute_exists(connectionId) AND frameWindow = :window AND frameCount < :limit',
        ExpressionAttributeValues: { ':one': 1, ':window': windowStart, ':limit': limit.frames },
      }),
    );
  const startWindow = () =>
    conditionally(
      new UpdateCommand({
        TableName: table,
        Key: { connectionId },
        UpdateExpression: 'SET frameWindow = :window, frameCount = :one',
        ConditionExpression: 'attribute_exists(connectionId) AND (attribute_not_exists(frameWindow) OR frameWindow < :window)',
        ExpressionAttributeValues: { ':one': 1, ':window': windowStart },
      }),
    );
  return (await increment()) || (await startWindow()) || (await increment()) ? 'allowed' : 'limited';
}

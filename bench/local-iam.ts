/**
 * What local IAM enforcement costs (lib/local/iam/): one DynamoDB GetItem made as a function's
 * role (authorized by iam-simulate first) against the same GetItem made as no role (sent
 * unchecked), on the same client and runtime; and the in-process synthesis of the stack that
 * `npm start` adds, against a bare construction of the app. Bounded: a fixed number of calls.
 */
import { performance } from 'node:perf_hooks';
import { DynamoDBClient, GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { synthesizeLocalStack } from '../lib/local/iam/synthesized-stack';
import { startLocalRuntime } from '../lib/local/runtime';
import { buildHeraldApp } from '../lib/infra/herald-stack';
import { percentile, row } from './stats';

const CALLS = 400;
const SYNTHS = 3;
/** The least a stack needs to synthesize: a sender and somewhere for its alarms to go. */
const BENCH_CONTEXT = { stackName: 'herald', emailSender: 'bench@herald.local', alarmEmail: 'alarms@herald.local' };

export async function benchLocalIam(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0, enforceIam: true });
  const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const iam = runtime.iam!;
    const asExportRun = <T>(work: () => Promise<T>) => iam.runAs('getExportRun', iam.functionRole('getExportRun'), work);
    const asPublisher = <T>(work: () => Promise<T>) => iam.runAs('publishNotification', iam.functionRole('publishNotification'), work);
    const get = () => client.send(new GetItemCommand({ TableName: 'herald-exports', Key: { pk: { S: 'bench' }, sk: { S: 'none' } } }));
    // Four items in one transaction: each is authorized on its own.
    const transact = () =>
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [1, 2, 3, 4].map((n) => ({
            Put: { TableName: 'herald-notifications', Item: { userKey: { S: 'bench#iam' }, seq: { N: String(n) } } },
          })),
        }),
      );
    await get();
    await asExportRun(get);

    /** Each pair one after the other, so drift on a shared machine falls on both alike. */
    const measurePairs = async (checkedCall: () => Promise<unknown>, uncheckedCall: () => Promise<unknown>, count: number) => {
      const checked: number[] = [];
      const unchecked: number[] = [];
      for (let index = 0; index < count; index += 1) {
        let started = performance.now();
        await checkedCall();
        checked.push(performance.now() - started);
        started = performance.now();
        await uncheckedCall();
        unchecked.push(performance.now() - started);
      }
      return { checked, unchecked };
    };
    const { checked, unchecked } = await measurePairs(() => asExportRun(get), get, CALLS * 2);
    const transactions = await measurePairs(() => asPublisher(transact), transact, CALLS);

    console.log(`${CALLS * 2} GetItem calls each way, ${CALLS} four-item transactions, DynamoDB Local on loopback`);
    console.log(row('GetItem as a role (authorized), p50', percentile(checked, 50), percentile(unchecked, 50)));
    console.log(row('GetItem as a role (authorized), p95', percentile(checked, 95), percentile(unchecked, 95)));
    console.log(row('TransactWriteItems x4 as a role, p50', percentile(transactions.checked, 50), percentile(transactions.unchecked, 50)));
  } finally {
    client.destroy();
    await runtime.stop();
  }

  const built: number[] = [];
  const synthesized: number[] = [];
  for (let index = 0; index < SYNTHS; index += 1) {
    let started = performance.now();
    buildHeraldApp({ ...BENCH_CONTEXT, 'aws:cdk:bundling-stacks': [] }, { nagChecks: false });
    built.push(performance.now() - started);
    started = performance.now();
    await synthesizeLocalStack(BENCH_CONTEXT);
    synthesized.push(performance.now() - started);
  }
  console.log(row('synthesize the stack for its roles (median)', percentile(synthesized, 50), percentile(built, 50)));
  console.log('  (baseline: constructing the same app without synthesis)');
}

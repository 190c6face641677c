import { functionEnvironment, functions, tables, type FunctionName, type QueueName, type SettingName, type TableName } from '#lib/description';
import { tableName, urls } from './local';

/** What a test chooses of the environment a function's description computes; tables are always the runtime's. */
export interface LambdaModuleEnvironment {
  readonly settings?: Partial<Record<SettingName, string>>;
  readonly queueUrls?: Partial<Record<QueueName, string>>;
  /** @default the running local runtime's @connections endpoint */
  readonly connectionsEndpoint?: string;
}

/**
 * A function's entry module imported as Lambda cold-starts it: with exactly the environment its
 * description gives it (functionEnvironment), set only while `load` runs, since an entry wires its
 * `handler` at import; the variables it replaced are put back after. `load` gets that environment.
 * For a test that builds the entry's makeHandler with deps of its own, or calls its wired handler.
 */
export async function importAsLambda<T>(
  name: FunctionName,
  chosen: LambdaModuleEnvironment,
  load: (env: Readonly<Record<string, string>>) => Promise<T>,
): Promise<T> {
  const env = functionEnvironment(functions[name], {
    tableNames: Object.fromEntries(Object.keys(tables).map((table) => [table, tableName(table as TableName)])) as Record<TableName, string>,
    queueUrls: (chosen.queueUrls ?? {}) as Record<QueueName, string>,
    bucketNames: {} as never,
    connectionsEndpoint: chosen.connectionsEndpoint ?? urls().wsUrl.replace(/^ws/, 'http'),
    settings: (chosen.settings ?? {}) as Record<SettingName, string>,
  });
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await load(env);
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/**
 * CPU time of the processes a local benchmark runs on: this Node process (the runtime, emulated
 * gateways, fauxqs, SES and the benchmark's clients) and DynamoDB Local's JVM, read from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** DynamoDB Local's JVM: the java process among this one's descendants (undefined off Linux). */
export function javaPid(): number | undefined {
  const queue = [process.pid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const task of readOr(() => readdirSync(`/proc/${pid}/task`), [] as string[])) {
      for (const child of readOr(() => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8'), '')
        .split(' ')
        .filter(Boolean)) {
        if (readOr(() => readFileSync(`/proc/${child}/comm`, 'utf8').trim(), '') === 'java') return Number(child);
        queue.push(Number(child));
      }
    }
  }
  return undefined;
}

/** A process's user + system CPU time so far, in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms); NaN when unreadable. */
export function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const fields = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'), ') ')
    .split(') ')[1]!
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU ms of this process and of `java` spent in `work`, beside its wall time. */
export async function measureCpu<T>(java: number | undefined, work: () => Promise<T>): Promise<{ result: T; nodeMs: number; javaMs: number }> {
  const node = process.cpuUsage();
  const javaBefore = cpuMsOf(java);
  const result = await work();
  const used = process.cpuUsage(node);
  return { result, nodeMs: (used.user + used.system) / 1000, javaMs: cpuMsOf(java) - javaBefore };
}

function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

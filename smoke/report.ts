/**
 * The smoke test's bookkeeping: each check is timed and printed as one line (✓ passed, ✗ failed
 * with what was expected and what was seen, – skipped with why); a failed check ends its step,
 * and the step's clean-ups run whatever happened.
 */
import { brief, HttpApi, Mismatch, OutOfTime } from './wire';

export type Outcome = 'passed' | 'failed' | 'skipped';

export interface CheckResult {
  readonly id: string;
  readonly name: string;
  readonly outcome: Outcome;
  readonly ms: number;
  readonly detail?: string;
  readonly expected?: string;
  readonly seen?: string;
}

export interface SmokeReport {
  readonly ok: boolean;
  readonly results: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly ms: number;
  /** Every line printed, in order (the test shows them when a check fails). */
  readonly lines: readonly string[];
}

/** Thrown by a failed check to end its step; the step's other checks are reported as not run. */
class StepStopped extends Error {}

export function duration(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

type Cleanup = { name: string; silent: boolean; run: (api: HttpApi) => Promise<string | void> };

/** One numbered step: its checks share an id prefix; its clean-ups run when it ends. */
export class Step {
  private count = 0;
  private readonly cleanups: Cleanup[] = [];

  constructor(
    private readonly walk: Walk,
    readonly number: number,
  ) {}

  /**
   * Runs one check. `fn` returns the value later checks need and may call `note` for the line's
   * detail. A Mismatch (or any error) fails the check and ends the step.
   */
  async check<T>(name: string, fn: (note: (detail: string) => void) => Promise<T>): Promise<T> {
    const id = `${this.number}.${++this.count}`;
    let detail: string | undefined;
    const started = performance.now();
    try {
      if (this.walk.signal.aborted) throw this.walk.signal.reason;
      const value = await fn((text) => (detail = text));
      this.walk.record({ id, name, outcome: 'passed', ms: performance.now() - started, ...(detail !== undefined && { detail }) });
      return value;
    } catch (error) {
      this.walk.record({ id, name, outcome: 'failed', ms: performance.now() - started, ...explain(error, this.walk.limitSeconds) });
      throw new StepStopped();
    }
  }

  skip(name: string, reason: string): void {
    this.walk.record({ id: `${this.number}.${++this.count}`, name, outcome: 'skipped', ms: 0, detail: reason });
  }

  /**
   * Registers a clean-up that runs when the step ends, passed or not, in the order registered
   * (a member leaves its topic before the alert is resolved, so the resolve notifies no one);
   * shown as a check unless silent.
   */
  defer(name: string, run: (api: HttpApi) => Promise<string | void>, options: { silent?: boolean } = {}): void {
    this.cleanups.push({ name, run, silent: options.silent ?? false });
  }

  /** @internal */
  async finish(): Promise<void> {
    // Clean-ups get their own short budget, so a run that ran out of time still removes what it made.
    const signal = AbortSignal.timeout(20_000);
    const api = new HttpApi(this.walk.httpUrl, signal);
    for (const cleanup of this.cleanups) {
      const id = cleanup.silent ? '' : `${this.number}.${++this.count}`;
      const started = performance.now();
      try {
        const detail = await cleanup.run(api);
        if (!cleanup.silent) this.walk.record({ id, name: cleanup.name, outcome: 'passed', ms: performance.now() - started, ...(detail ? { detail } : {}) });
      } catch (error) {
        if (cleanup.silent) continue;
        this.walk.record({ id, name: cleanup.name, outcome: 'failed', ms: performance.now() - started, ...explain(error, this.walk.limitSeconds) });
      }
    }
  }
}

function explain(error: unknown, limitSeconds: number): { expected: string; seen: string } {
  if (error instanceof Mismatch) return { expected: error.expected, seen: error.seen };
  if (error instanceof OutOfTime || (error as Error)?.name === 'AbortError')
    return { expected: `to finish within the overall limit of ${limitSeconds} s`, seen: 'the limit ran out during this check' };
  return { expected: 'no error', seen: error instanceof Error ? `${error.name}: ${error.message}` : brief(error) };
}

/** A whole walk: numbered steps, one line per check, a summary. */
export class Walk {
  readonly results: CheckResult[] = [];
  readonly lines: string[] = [];
  private readonly started = performance.now();

  constructor(
    readonly signal: AbortSignal,
    readonly limitSeconds: number,
    readonly httpUrl: string,
    private readonly out: (line: string) => void,
  ) {}

  print(line: string): void {
    this.lines.push(line);
    this.out(line);
  }

  /** Runs step `number`; a failed check stops it, never the walk. */
  async step(number: number, title: string, body: (step: Step) => Promise<void>): Promise<void> {
    this.print(`${number}. ${title}`);
    if (this.signal.aborted) {
      this.print(`   · not run: the overall limit of ${this.limitSeconds} s ran out`);
      return;
    }
    const step = new Step(this, number);
    try {
      await body(step);
    } catch (error) {
      if (!(error instanceof StepStopped)) throw error;
      this.print(`   · the rest of step ${number} was not run`);
    } finally {
      await step.finish();
    }
  }

  record(result: CheckResult): void {
    this.results.push(result);
    const mark = result.outcome === 'passed' ? '✓' : result.outcome === 'failed' ? '✗' : '–';
    const text = `${result.name}${result.outcome !== 'skipped' && result.detail ? `: ${result.detail}` : ''}`;
    const time = result.outcome === 'skipped' ? 'skipped' : duration(result.ms);
    this.print(` ${mark} ${result.id.padEnd(4)} ${time.padStart(7)}  ${text}`);
    const indent = ' '.repeat(17);
    if (result.outcome === 'skipped') this.print(`${indent}why: ${result.detail}`);
    if (result.outcome === 'failed') {
      this.print(`${indent}expected: ${result.expected}`);
      this.print(`${indent}seen:     ${result.seen}`);
    }
  }

  summary(): SmokeReport {
    const count = (outcome: Outcome) => this.results.filter((result) => result.outcome === outcome).length;
    const [passed, failed, skipped] = [count('passed'), count('failed'), count('skipped')];
    const ms = performance.now() - this.started;
    const ok = failed === 0 && !this.signal.aborted && passed > 0;
    this.print('');
    this.print(
      `${ok ? 'PASS' : 'FAIL'}: ${passed} passed, ${failed} failed, ${skipped} skipped in ${duration(ms)}${this.signal.aborted ? ` (the overall limit of ${this.limitSeconds} s ran out)` : ''}`,
    );
    return { ok, results: this.results, passed, failed, skipped, ms, lines: this.lines };
  }
}

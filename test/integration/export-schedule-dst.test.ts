import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { api, devToken, eventually, urls } from '../support/local';

/**
 * A schedule fires at the right local time across a DST change, end to end: the schedule API
 * creates the Scheduler schedule, the emulator's manual clock moves over the US spring-forward
 * (2026-03-08), and each firing becomes a run through the queue and the worker.
 */
const clock = (body: unknown) => fetch(`${urls().schedulerUrl}/_local/clock`, { method: 'POST', body: JSON.stringify(body) });
afterAll(async () => {
  await clock({ real: true });
});

describe('a daily export at 09:00 in America/New_York', () => {
  it('fires at 14:00 UTC before the DST change and 13:00 UTC after it, each firing one run', async () => {
    expect((await clock({ now: '2026-03-06T12:00:00Z' })).status).toBe(200);
    const token = await devToken(`t-${randomUUID().slice(0, 8)}`, 'ana');
    const { status, body: schedule } = await api('POST', '/exports/schedules', token, {
      name: 'Morning report',
      dataset: 'notifications',
      format: 'ndjson',
      schedule: { preset: 'daily', at: '09:00' },
      timezone: 'America/New_York',
      recipients: ['ops@example.com'],
    });
    expect(status).toBe(201);
    try {
      const moved = await clock({ now: '2026-03-10T00:00:00Z' });
      const { fired } = (await moved.json()) as { fired: Array<{ name: string; scheduledTime: string; outcome: string }> };
      const ours = fired.filter((invocation) => invocation.name === `export-${schedule.id}`);
      expect(ours.map((invocation) => invocation.scheduledTime)).toEqual([
        '2026-03-06T14:00:00Z',
        '2026-03-07T14:00:00Z',
        '2026-03-08T13:00:00Z',
        '2026-03-09T13:00:00Z',
      ]);
      expect(ours.every((invocation) => invocation.outcome === 'delivered')).toBe(true);

      const runs = await eventually(async () => {
        const { body } = await api('GET', `/exports/schedules/${schedule.id}/runs`, token);
        // The four firings arrive at once and the worker runs up to maxConcurrency of them together, as
        // Lambda does: the schedule's lease lets one export at a time and records the others skipped.
        const done = (run: { status: string }) => run.status === 'succeeded' || run.status === 'skipped';
        return body.items.length === 4 && body.items.every(done) && body.items.some((run: { status: string }) => run.status === 'succeeded')
          ? body.items
          : undefined;
      }, 20_000);
      expect(runs.map((run: { scheduledAt: string }) => run.scheduledAt)).toEqual([
        '2026-03-09T13:00:00Z',
        '2026-03-08T13:00:00Z',
        '2026-03-07T14:00:00Z',
        '2026-03-06T14:00:00Z',
      ]);
      expect(runs.every((run: { trigger: string }) => run.trigger === 'schedule')).toBe(true);
    } finally {
      await api('DELETE', `/exports/schedules/${schedule.id}`, token);
    }
  });
});

import type { ExportRow } from '../functions/exports/formats';

/** The row bench/exports.ts seeds as notification `seq`: about 350 bytes of JSON. */
export function rowOf(seq: number): ExportRow {
  return {
    seq,
    id: `01J${String(seq).padStart(23, '0')}`,
    createdAt: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    kind: 'work-order.assigned',
    priority: seq % 10 === 0 ? 'high' : 'normal',
    title: `Work order ${seq} assigned to crew ${seq % 97}`,
    body: `Inspect pump station ${seq % 512}, valve ${seq % 13}; "bring the torque wrench", report before 17:00.`,
    read: seq % 3 === 0,
    data: { workOrder: `WO-${seq}`, site: `S-${seq % 512}`, lat: 52.37 + (seq % 100) / 1000, lon: 4.89 },
  };
}

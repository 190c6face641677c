import { describe, expect, it } from 'vitest';
import { functions, mergeAccess, mergeTableAccess, tableOperations } from '#lib/description';

describe('mergeAccess', () => {
  it('takes the stronger level of a table several parts name: read and readWrite are readWrite, read and write are readWrite', () => {
    expect(mergeAccess({ tables: { notifications: 'readWrite' } }, { tables: { notifications: 'read' } }).tables).toEqual({ notifications: 'readWrite' });
    expect(mergeAccess({ tables: { notifications: 'read' } }, { tables: { notifications: 'readWrite' } }).tables).toEqual({ notifications: 'readWrite' });
    expect(mergeAccess({ tables: { exports: 'read' } }, { tables: { exports: 'write' } }).tables).toEqual({ exports: 'readWrite' });
    expect(mergeAccess({ tables: { exports: 'read' } }, { tables: { exports: 'read' } }).tables).toEqual({ exports: 'read' });
  });

  it('unites operations when a part names exact ones, and keeps tables only one part names', () => {
    const merged = mergeAccess({ tables: { tickets: ['DeleteItem'], dedupe: 'read' } }, { tables: { tickets: 'read' } });
    expect(new Set(tableOperations(merged.tables!.tickets!))).toEqual(new Set(['DeleteItem', 'GetItem', 'BatchGetItem', 'Query', 'QueryIndex']));
    expect(merged.tables!.dedupe).toBe('read');
    expect(mergeTableAccess(['PutItem'], ['PutItem'])).toEqual(['PutItem']);
  });

  it('unites settings without repeats and keeps a flag any part sets', () => {
    const merged = mergeAccess(
      { settings: ['tenantClaim', 'rolesClaim'], sendEmail: true },
      { settings: ['rolesClaim', 'emailSender'], manageConnections: true },
    );
    expect(merged.settings).toEqual(['tenantClaim', 'rolesClaim', 'emailSender']);
    expect(merged).toMatchObject({ sendEmail: true, manageConnections: true });
    expect(merged.manageSchedules).toBeUndefined();
    expect(mergeAccess({ manageSchedules: ['CreateSchedule'] }, { manageSchedules: ['CreateSchedule', 'DeleteSchedule'] }).manageSchedules).toEqual([
      'CreateSchedule',
      'DeleteSchedule',
    ]);
  });

  it('takes the stronger bucket access and keeps the queues any part sends to', () => {
    expect(mergeAccess({ buckets: { exports: 'read' } }, { buckets: { exports: 'write' } }).buckets).toEqual({ exports: 'readWrite' });
    expect(mergeAccess({ queues: { exports: 'send' } }, {}).queues).toEqual({ exports: 'send' });
  });

  it('gives the export worker write access to Notifications, which deliver() needs, though its dataset only reads it', () => {
    expect(tableOperations(functions.exportWorker.tables!.notifications!)).toEqual(expect.arrayContaining(['UpdateItem', 'PutItem', 'Query']));
  });
});

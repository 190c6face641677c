import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { HeraldData } from '#lib/infra/herald-data';
import { RecordsSync } from '#lib/infra/records-sync';

/** The records capability on its own: its table as described, and its props validated at synth (docs/sync.md). */
describe('RecordsSync', () => {
  const build = () => {
    const stack = new Stack(new App(), 'Probe');
    return { stack, data: new HeraldData(stack, 'Data') };
  };

  it('keys the Records table by scope and item, with consistent-readable indexes by seq and (sparse) open conflicts, and TTL', () => {
    const { stack } = build();
    const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table');
    const records = Object.values(tables).find((table) =>
      (table.Properties.LocalSecondaryIndexes ?? []).some((index: { IndexName: string }) => index.IndexName === 'bySeq'),
    );
    expect(records?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    const indexes = Object.fromEntries(
      records?.Properties.LocalSecondaryIndexes.map((index: { IndexName: string; KeySchema: Array<{ AttributeName: string }>; Projection: object }) => [
        index.IndexName,
        { sortKey: index.KeySchema[1]?.AttributeName, projection: index.Projection },
      ]),
    );
    expect(indexes.bySeq.sortKey).toBe('seq');
    expect(indexes.conflicts.sortKey).toBe('conflictSince');
    expect(indexes.bySeq.projection).toMatchObject({ ProjectionType: 'INCLUDE', NonKeyAttributes: expect.arrayContaining(['fields', 'meta', 'deleted']) });
  });

  it('defaults to no declarations and 30 days, and keeps valid declarations', () => {
    const { stack, data } = build();
    const defaults = new RecordsSync(stack, 'Defaults', { recordsTable: data.tables.records });
    expect([defaults.collections, defaults.retentionDays]).toEqual([{}, 30]);
    const declared = new RecordsSync(stack, 'Declared', {
      recordsTable: data.tables.records,
      collections: { jobs: { fields: { crew: 'merge-by-id' } } },
      retentionDays: 90,
    });
    expect(declared.collections).toEqual({ jobs: { fields: { crew: 'merge-by-id' } } });
  });

  it.each([
    [{ retentionDays: 0 }, 'prop "retentionDays" must be a whole number from 1 to 365'],
    [{ retentionDays: 400 }, 'prop "retentionDays"'],
    [{ collections: { jobs: { fields: { crew: 'newest-wins' } } } }, 'prop "collections" is not a valid declaration: jobs.fields.crew'],
    [{ collections: { jobs: { fields: { crew: 'merge-by-id' }, assigneeField: 'crew' } } }, 'jobs.assigneeField'],
  ])('refuses %j at synth, naming the prop', (props, message) => {
    const { stack, data } = build();
    expect(() => new RecordsSync(stack, 'Records', { recordsTable: data.tables.records, ...(props as object) })).toThrow(message);
  });
});

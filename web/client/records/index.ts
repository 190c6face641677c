/** Offline-first records in the browser: see web/client/README.md, "Records", and docs/sync.md, "The client". */
export { HeraldRecords, type HeraldRecordsOptions } from './records';
export { indexedDbRecordStore, memoryRecordStore, type RecordStore, type RecordStoreFactory, type StoreChange } from './store';
export { DEFAULT_RETRY, nextBatch, opFromEdit, viewOf, type RetryTiming } from './outbox';
export {
  StorageQuotaError,
  type Conflict,
  type LocalRecord,
  type OpPriority,
  type OutboxOp,
  type RecordEdit,
  type RecordKey,
  type RecordsEvents,
  type WireRecord,
} from './types';

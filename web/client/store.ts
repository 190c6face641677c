import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { MarkReadTarget, Notification } from './types';

/** Whose notifications a store holds; two users on one browser get two stores. */
export interface Account {
  readonly tenant: string;
  readonly user: string;
}

/**
 * What the client keeps between page loads: the highest seq delivered (so a reload resumes where
 * it left off instead of replaying), the latest notifications (the inbox), and the last unread count.
 */
export interface NotificationStore {
  load(): Promise<{ lastSeq: number; unread: number | undefined }>;
  /** Adds delivered notifications and moves lastSeq forward (never back), together. */
  append(items: readonly Notification[], lastSeq: number): Promise<void>;
  /**
   * Empties the inbox and sets lastSeq, even lower: the server no longer backs the stored view
   * (notifications expired unseen, or the server's data is older than this store).
   */
  reset(lastSeq: number): Promise<void>;
  markRead(target: MarkReadTarget): Promise<void>;
  setUnread(unread: number): Promise<void>;
  /** The stored notifications, newest first. */
  inbox(): Promise<Notification[]>;
  close(): void;
}

export type StoreFactory = (account: Account) => Promise<NotificationStore>;

/** @default 500 */
export const DEFAULT_INBOX_LIMIT = 500;

const isRead = (target: MarkReadTarget, item: Notification) => ('upTo' in target ? item.seq <= target.upTo : target.ids.includes(item.id));

/**
 * Keeps state in memory, per account, for as long as the factory lives: pass one factory to two
 * clients and the second resumes where the first stopped. For Node and browsers without IndexedDB.
 */
export function memoryStore(options: { inboxLimit?: number } = {}): StoreFactory {
  const limit = options.inboxLimit ?? DEFAULT_INBOX_LIMIT;
  const accounts = new Map<string, { lastSeq: number; unread: number | undefined; inbox: Map<number, Notification> }>();
  return async (account) => {
    const key = JSON.stringify([account.tenant, account.user]);
    let state = accounts.get(key);
    if (!state) accounts.set(key, (state = { lastSeq: 0, unread: undefined, inbox: new Map() }));
    const current = state;
    return {
      async load() {
        return { lastSeq: current.lastSeq, unread: current.unread };
      },
      async append(items, lastSeq) {
        for (const item of items) current.inbox.set(item.seq, item);
        const excess = [...current.inbox.keys()].sort((a, b) => a - b).slice(0, Math.max(0, current.inbox.size - limit));
        for (const seq of excess) current.inbox.delete(seq);
        current.lastSeq = Math.max(current.lastSeq, lastSeq);
      },
      async reset(lastSeq) {
        current.inbox.clear();
        current.lastSeq = lastSeq;
      },
      async markRead(target) {
        for (const [seq, item] of current.inbox) if (!item.read && isRead(target, item)) current.inbox.set(seq, { ...item, read: true });
      },
      async setUnread(unread) {
        current.unread = unread;
      },
      async inbox() {
        return [...current.inbox.values()].sort((a, b) => b.seq - a.seq);
      },
      close() {},
    };
  };
}

interface HeraldDb extends DBSchema {
  meta: { key: 'lastSeq' | 'unread'; value: number };
  inbox: { key: number; value: Notification; indexes: { id: string } };
}

/**
 * Keeps state in IndexedDB, one database per tenant and user (`herald:<tenant>:<user>`, each part
 * URI-encoded), so accounts never mix and signing out can delete exactly one user's data.
 */
export function indexedDbStore(options: { inboxLimit?: number } = {}): StoreFactory {
  const limit = options.inboxLimit ?? DEFAULT_INBOX_LIMIT;
  return async (account) => {
    const db: IDBPDatabase<HeraldDb> = await openDB<HeraldDb>(indexedDbName(account), 1, {
      upgrade(database) {
        database.createObjectStore('meta');
        database.createObjectStore('inbox', { keyPath: 'seq' }).createIndex('id', 'id', { unique: true });
      },
    });
    return {
      async load() {
        const tx = db.transaction('meta');
        const [lastSeq, unread] = await Promise.all([tx.store.get('lastSeq'), tx.store.get('unread')]);
        return { lastSeq: lastSeq ?? 0, unread };
      },
      async append(items, lastSeq) {
        const tx = db.transaction(['meta', 'inbox'], 'readwrite');
        const inbox = tx.objectStore('inbox');
        const meta = tx.objectStore('meta');
        for (const item of items) void inbox.put(item);
        const excess = (await inbox.count()) - limit;
        if (excess > 0) {
          const oldest = await inbox.getAllKeys(null, excess);
          const newestToDrop = oldest[oldest.length - 1];
          if (newestToDrop !== undefined) await inbox.delete(IDBKeyRange.upperBound(newestToDrop));
        }
        await meta.put(Math.max((await meta.get('lastSeq')) ?? 0, lastSeq), 'lastSeq');
        await tx.done;
      },
      async reset(lastSeq) {
        const tx = db.transaction(['meta', 'inbox'], 'readwrite');
        await Promise.all([tx.objectStore('inbox').clear(), tx.objectStore('meta').put(lastSeq, 'lastSeq'), tx.done]);
      },
      async markRead(target) {
        const tx = db.transaction('inbox', 'readwrite');
        for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue()) {
          if (!cursor.value.read && isRead(target, cursor.value)) await cursor.update({ ...cursor.value, read: true });
        }
        await tx.done;
      },
      async setUnread(unread) {
        await db.put('meta', unread, 'unread');
      },
      async inbox() {
        return (await db.getAll('inbox')).reverse();
      },
      close() {
        db.close();
      },
    };
  };
}

export function indexedDbName(account: Account): string {
  return `herald:${encodeURIComponent(account.tenant)}:${encodeURIComponent(account.user)}`;
}

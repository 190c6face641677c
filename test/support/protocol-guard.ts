import { afterAll, expect } from 'vitest';
import { TestSocket } from './local';

/** Every integration file: each frame the server sent matched the one protocol definition. */
afterAll(() => {
  expect(TestSocket.protocolViolations).toEqual([]);
});

import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, serverFrameSchema } from '#functions/protocol/frames';
import { BatchPacker } from '#functions/realtime/frames';

const item = (seq: number, body = '') => ({
  seq,
  id: `n${seq}`,
  kind: 'note',
  title: `#${seq}`,
  body,
  priority: 'normal' as const,
  createdAt: '2026-01-01T00:00:00Z',
  read: false,
});
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

function packAll(packer: BatchPacker, items: ReturnType<typeof item>[]) {
  const frames = items.flatMap((next) => packer.add(next) ?? []);
  const last = packer.flush();
  return last ? [...frames, last] : frames;
}

describe('BatchPacker', () => {
  it('fills frames up to the byte limit exactly, counting UTF-8 bytes rather than characters', () => {
    // 3 bytes per character: a character count would overfill the frame threefold.
    const items = Array.from({ length: 40 }, (_, index) => item(index + 1, '€'.repeat(900)));
    const frames = packAll(new BatchPacker(), items);
    expect(frames.flatMap((frame) => frame.items.map((packed) => packed.seq))).toEqual(items.map((packed) => packed.seq));
    for (const [index, frame] of frames.entries()) {
      expect(bytes(frame)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      expect(serverFrameSchema.safeParse(frame).success).toBe(true);
      const next = frames[index + 1];
      if (next) expect(bytes(frame) + 1 + bytes(next.items[0])).toBeGreaterThan(MAX_FRAME_BYTES);
    }
    expect(frames.length).toBe(4);
  });

  it('meets a limit that falls exactly on a frame boundary', () => {
    const sample = { type: 'notifications', items: [item(1), item(2)] };
    const frames = packAll(new BatchPacker(bytes(sample)), [item(1), item(2), item(3)]);
    expect(frames.map((frame) => frame.items.length)).toEqual([2, 1]);
  });

  it('sends a notification larger than a frame alone rather than dropping it, and nothing when given nothing', () => {
    const packer = new BatchPacker(200);
    const frames = packAll(packer, [item(1), item(2, 'x'.repeat(500)), item(3)]);
    expect(frames.map((frame) => frame.items.map((packed) => packed.seq))).toEqual([[1], [2], [3]]);
    expect(packer.flush()).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { clientFrames, MAX_FRAME_BYTES } from '#functions/protocol/frames';
import { describeUnroutableFrame, parseFrame } from '#functions/realtime/frames';

describe('parseFrame', () => {
  it('accepts a valid ping with or without a correlation id', () => {
    expect(parseFrame('{"action":"ping"}', clientFrames.ping)).toEqual({ ok: true, frame: { action: 'ping' } });
    expect(parseFrame('{"action":"ping","id":"7"}', clientFrames.ping)).toEqual({ ok: true, frame: { action: 'ping', id: '7' } });
  });

  it('names the offending field and echoes the id of an invalid frame', () => {
    const parsed = parseFrame('{"action":"ping","id":"9","surprise":1}', clientFrames.ping);
    expect(parsed).toMatchObject({ ok: false, error: { type: 'error', code: 'invalid_frame', id: '9' } });
    expect(!parsed.ok && parsed.error.type === 'error' && parsed.error.message).toContain('surprise');
  });

  it('refuses non-JSON and oversized frames with distinct codes', () => {
    expect(parseFrame('{nope', clientFrames.ping)).toMatchObject({ ok: false, error: { code: 'malformed_frame' } });
    expect(parseFrame(undefined, clientFrames.ping)).toMatchObject({ ok: false, error: { code: 'malformed_frame' } });
    const big = JSON.stringify({ action: 'ping', id: 'x'.repeat(MAX_FRAME_BYTES) });
    expect(parseFrame(big, clientFrames.ping)).toMatchObject({ ok: false, error: { code: 'frame_too_large' } });
  });

  it('measures size in bytes, not characters', () => {
    const almost = `{"action":"ping","id":"${'é'.repeat(MAX_FRAME_BYTES / 2)}"}`;
    expect(almost.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(parseFrame(almost, clientFrames.ping)).toMatchObject({ ok: false, error: { code: 'frame_too_large' } });
  });
});

describe('describeUnroutableFrame', () => {
  it('tells an unknown action from a frame without one', () => {
    expect(describeUnroutableFrame('{"action":"dance","id":"a"}')).toMatchObject({ code: 'unknown_action', id: 'a' });
    expect(describeUnroutableFrame('{"act":"dance"}')).toMatchObject({ code: 'malformed_frame' });
    expect(describeUnroutableFrame('[1,2]')).toMatchObject({ code: 'malformed_frame' });
    expect(describeUnroutableFrame('"ping"')).toMatchObject({ code: 'malformed_frame' });
  });

  it('does not reflect an unbounded action name back', () => {
    const frame = describeUnroutableFrame(JSON.stringify({ action: 'a'.repeat(5000) }));
    expect(frame.type === 'error' && frame.message.length).toBeLessThan(200);
  });
});

describe('the one protocol definition', () => {
  it('has a WebSocket route in the description for every client action, and no other named route', async () => {
    const { clientActions } = await import('#functions/protocol/frames');
    const { functionSpecs } = await import('#lib/description');
    const routes = functionSpecs().flatMap(([, spec]) => (spec.trigger.kind === 'websocket' ? [spec.trigger.route] : []));
    expect(routes.filter((route) => !route.startsWith('$')).sort()).toEqual([...clientActions].sort());
    expect(routes.filter((route) => route.startsWith('$')).sort()).toEqual(['$connect', '$default', '$disconnect']);
  });
});

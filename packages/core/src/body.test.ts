/**
 * readBody: RFC 9110 §15.5.14 — a body over the limit is refused with 413 having read at most the
 * limit, whatever the framing; RFC 9112 §9.6 — the connection is then closed (the rest is unread).
 */
import { describe, expect, it } from 'vitest';
import { readBody, type BodySource } from './body.js';
import { WimseError, type WimseErrorCode } from './errors.js';

const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

/** A fetch body stream of `chunks`, counting how many were pulled. */
function webStream(chunks: Uint8Array[]): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]!);
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => i };
}

/** An endless async iterable of `size`-byte chunks, counting how many were taken. */
function endless(size: number): { source: AsyncIterable<Uint8Array>; taken: () => number; returned: () => boolean } {
  let taken = 0;
  let returned = false;
  const iterator: AsyncIterator<Uint8Array> = {
    next: async () => ({ done: false, value: (taken++, bytes(size)) }),
    return: async () => ((returned = true), { done: true, value: undefined }),
  };
  return { source: { [Symbol.asyncIterator]: () => iterator }, taken: () => taken, returned: () => returned };
}

async function failure(p: Promise<unknown>): Promise<{ code: WimseErrorCode; status: number; headers: Readonly<Record<string, string>> }> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(e instanceof WimseError)) throw new Error(`expected a WimseError, got ${String(e)}`);
  return { code: e.code, status: e.status, headers: e.headers };
}

const TOO_LARGE = { code: 'body_too_large', status: 413, headers: { connection: 'close' } };

describe('readBody: reads a body within the limit', () => {
  it('joins the chunks of a fetch stream', async () => {
    const { stream } = webStream([new TextEncoder().encode('{"n":'), new TextEncoder().encode('1}')]);
    expect(new TextDecoder().decode(await readBody(stream, 100))).toBe('{"n":1}');
  });

  it('joins the chunks of an async iterable (a Node Readable is one)', async () => {
    async function* chunks() {
      yield bytes(3, 0x41);
      yield bytes(2, 0x42);
    }
    expect(new TextDecoder().decode(await readBody(chunks(), 5))).toBe('AAABB');
  });

  it('accepts a body of exactly the limit, and an empty body', async () => {
    expect((await readBody(webStream([bytes(4), bytes(4)]).stream, 8)).byteLength).toBe(8);
    expect((await readBody(webStream([]).stream, 0)).byteLength).toBe(0);
  });

  it('returns a copy the caller owns, not a view over the source chunk', async () => {
    const chunk = bytes(4);
    const body = await readBody(webStream([chunk]).stream, 4, '4');
    chunk.fill(0);
    expect(Array.from(body)).toEqual([0x61, 0x61, 0x61, 0x61]);
  });
});

describe('readBody: a declared Content-Length over the limit', () => {
  it('is refused before anything is read', async () => {
    const { stream, pulled } = webStream([bytes(10)]);
    expect(await failure(readBody(stream, 9, '10'))).toEqual(TOO_LARGE);
    expect(pulled()).toBe(0);
  });

  it('is refused even when far beyond a safe integer', async () => {
    expect(await failure(readBody(webStream([]).stream, 9, '99999999999999999999999'))).toEqual(TOO_LARGE);
  });
});

describe('readBody: a stream longer than the limit (chunked, HTTP/2, or a lying length)', () => {
  it('stops pulling a fetch stream as soon as the limit is passed', async () => {
    const { stream, pulled } = webStream(Array.from({ length: 100 }, () => bytes(10)));
    expect(await failure(readBody(stream, 25))).toEqual(TOO_LARGE);
    expect(pulled()).toBe(3);
    // Released, not cancelled: the server can still answer before it closes the connection.
    expect(stream.locked).toBe(false);
  });

  it('stops taking from an endless iterable and does not call return() (which destroys a Node stream)', async () => {
    const { source, taken, returned } = endless(1000);
    expect(await failure(readBody(source, 10_000))).toEqual(TOO_LARGE);
    expect([taken(), returned()]).toEqual([11, false]);
  });

  it('counts bytes, not chunks: one chunk over the limit is refused', async () => {
    expect(await failure(readBody(webStream([bytes(11)]).stream, 10, undefined))).toEqual(TOO_LARGE);
  });

  it('refuses a body longer than a Content-Length that was under the limit', async () => {
    expect(await failure(readBody(webStream([bytes(6), bytes(6)]).stream, 10, '5'))).toEqual(TOO_LARGE);
  });
});

describe('readBody: a failing stream', () => {
  it('is request_invalid (400), e.g. the client went away', async () => {
    const source: BodySource = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('aborted'));
      },
    });
    expect(await failure(readBody(source, 10))).toMatchObject({ code: 'request_invalid', status: 400 });
  });

  it('a stream of text instead of bytes is a bug, not bad input', async () => {
    async function* text() {
      yield 'abc' as unknown as Uint8Array;
    }
    await expect(readBody(text(), 10)).rejects.toThrow(TypeError);
  });
});

/** headersFromRaw must tell exactly what Node's own `headersDistinct` tells, with single values as strings. */
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { headersFromRaw } from './request.js';

/** Sends `head` verbatim to a loopback server and returns the request Node parsed. */
function received(head: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      res.end();
      server.close();
      resolve(req);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.end(head));
      socket.on('data', () => socket.destroy());
      socket.on('error', () => {});
    });
  });
}

describe('headersFromRaw: the fields Node parsed, as headersDistinct has them', () => {
  it('lower-cases names, keeps single values as strings and every value of a repeated field in order', async () => {
    const req = await received(
      'GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: WPT one\r\nauthorization: WPT two\r\nWorkload-Identity-Token: w\r\n' +
        'Signature-Input: a=1\r\nSIGNATURE-INPUT: b=2\r\nSignature-Input: c=3\r\nX-Empty:\r\nconstructor: c\r\n\r\n',
    );
    const expected = Object.fromEntries(Object.entries(req.headersDistinct).map(([k, v]) => [k, v!.length === 1 ? v![0] : v]));
    const view = headersFromRaw(req.rawHeaders);
    expect({ ...view }).toEqual(expected);
    expect(view.authorization).toEqual(['WPT one', 'WPT two']);
    expect(view['signature-input']).toEqual(['a=1', 'b=2', 'c=3']);
    expect(view['workload-identity-token']).toBe('w');
  });

  it('has no prototype members: an unsent field named like one reads as absent', () => {
    const view = headersFromRaw(['Host', 'a']);
    expect(view.constructor).toBeUndefined();
    expect(view.toString).toBeUndefined();
  });
});

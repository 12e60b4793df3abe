// settleWithin, and a server that answers a request's head (and the first 5 of 100 body bytes) at once and
// then goes silent while it keeps reading the upload: a body source failing after the
// response head (SPEC error table, HG_REQUEST_BODY) is observed against it.
import { FaultServer } from '../../src/testing/index.js';

/** `/partial` on a new FaultServer: HTTP/1.1, or h2c with `proto` 'h2'. */
export async function partialServer(proto: 'h1' | 'h2'): Promise<FaultServer> {
  const fs = await FaultServer.start(proto === 'h2' ? { h2: true, tls: false } : {});
  if (proto === 'h1') {
    fs.route('/partial', async (ex) => {
      await ex.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello');
      await ex.stall();
    }, { readBody: false });
  } else {
    fs.h2Route('/partial', async (s) => {
      await s.headers(200, { 'content-length': '100' });
      await s.data('hello');
      await new Promise(() => {});
    });
  }
  return fs;
}

/** How `p` settled (its error, if any) and after how many ms; never throws. */
export async function settleWithin(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await p;
    return { err: undefined, ms: performance.now() - t0 };
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
}

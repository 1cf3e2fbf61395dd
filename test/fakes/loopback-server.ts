import * as http from 'http';
import { AddressInfo } from 'net';

/** An HTTP stand-in on 127.0.0.1 with an ephemeral port: tests never send traffic off the machine. */
export abstract class LoopbackServer {
  private server?: http.Server;
  url = '';
  /** TCP connections accepted so far: a request that must not reach this upstream leaves it at 0. */
  connections = 0;
  /** Requests whose response has not closed yet (answered, or dropped by either side): 0 once nothing is left running. */
  inFlight = 0;

  protected abstract serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;

  /** Port 0 (tests): any free port. The `npm run stand-in` CLI passes a fixed one. */
  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.inFlight++;
      res.on('close', () => this.inFlight--);
      void this.serve(req, res);
    });
    this.server.on('connection', () => this.connections++);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', resolve);
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/**
 * Waits `ms` (forever when undefined), or less when the response closes first; true when it closed
 * (the caller hung up or timed out), so a stand-in holding an answer back knows not to send it.
 */
export function untilClosedOr(res: http.ServerResponse, ms?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = ms === undefined ? undefined : setTimeout(() => done(false), ms);
    const onClose = () => done(true);
    function done(closed: boolean) {
      clearTimeout(timer);
      res.off('close', onClose);
      resolve(closed);
    }
    res.on('close', onClose);
  });
}

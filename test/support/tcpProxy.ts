import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real server (here: PostgreSQL), to take a connection
 * away the way networks do:
 *  - `pass`: bytes flow both ways;
 *  - `refuse`: every connection is reset and new ones are closed at once (a restart, a dropped link);
 *  - `blackhole`: connections stay open but nothing flows (a silent partition: no error, no answer).
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

export interface TcpProxy {
  port: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let accepted = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    accepted += 1;
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => from.on('data', (chunk) => {
      if (mode === 'pass') to.write(chunk);
    });
    forward(client, upstream);
    forward(upstream, client);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() { return accepted; },
    setMode(next) {
      mode = next;
      if (next === 'refuse') for (const { client, upstream } of pairs) { client.resetAndDestroy(); upstream.destroy(); }
    },
    async close() {
      for (const { client, upstream } of pairs) { client.destroy(); upstream.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

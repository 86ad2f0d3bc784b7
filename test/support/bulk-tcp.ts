/**
 * A bulk TCP flow for bottleneck benchmarks (no iperf3 needed), run as a script inside a
 * network namespace: `node --import tsx test/support/bulk-tcp.ts sink --host H --port P` or
 * `… source --host H --port P`. The source writes as fast as the socket takes; the sink counts
 * what arrives and prints one JSON line every 250 ms: {"at": epoch ms, "bytes": total}, after a
 * first {"event":"ready"} line. Both run until killed.
 */
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';

function line(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function sink(host: string, port: number): void {
  let bytes = 0;
  const server = createServer((sock) => {
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    sock.on('error', () => {});
  });
  server.listen(port, host, () => {
    line({ event: 'ready', at: Date.now() });
    setInterval(() => line({ at: Date.now(), bytes }), 250);
  });
}

function source(host: string, port: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let bytes = 0;
  const sock = connect({ host, port, noDelay: false });
  const pump = () => {
    while (sock.write(chunk)) bytes += chunk.length;
    bytes += chunk.length;
  };
  sock.on('connect', () => {
    line({ event: 'connected', at: Date.now() });
    pump();
  });
  sock.on('drain', pump);
  sock.on('error', (err) => {
    process.stderr.write(`bulk-tcp source: ${err.message}\n`);
    process.exit(1);
  });
  setInterval(() => line({ at: Date.now(), written: bytes }), 1000);
}

const [role, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: { host: { type: 'string' }, port: { type: 'string' } },
});
if (!values.host || !values.port || (role !== 'sink' && role !== 'source')) {
  process.stderr.write('usage: bulk-tcp.ts sink|source --host ADDR --port N\n');
  process.exit(2);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));
if (role === 'sink') sink(values.host, Number(values.port));
else source(values.host, Number(values.port));

/**
 * bench:tcp-friendly — does Swarmcast's upload leave a foreground TCP flow its bandwidth?
 *
 * Two hosts in network namespaces (test/support/bottleneck.ts): host A's uplink is a tbf
 * bottleneck (default 10 Mbit/s with a deep queue, `latency 400ms`, so a full queue shows as
 * delay); host B holds the downloading viewers and the TCP sink; the server (origin, COM,
 * tracker, STUN) sits beyond. A bulk TCP flow from A to B runs
 *   (a) alone,
 *   (b) beside viewer U in A uploading at "automatic" (rate control on, no cap) to normal-mode
 *       viewers in B (U is their only possible neighbour; U runs --low-latency, so it holds
 *       every segment first and is asked for all of them: ~1.1 Mbit/s per downloader),
 *   (c) beside the same viewer with the rate control off (--no-rate-control),
 * and (d) U with a set cap and no TCP, for the cap error. For (b) and (c), U's upload is also
 * measured before the TCP flow starts and after it stops: what is spare, taken again.
 * Per-second lines show the TCP rate, U's upload rate and the bottleneck's queueing delay.
 *
 *   npm run bench:tcp-friendly -- [--seconds 20] [--downloaders 4] [--cap 3000]
 *                                 [--cap-seconds 30] [--rate 10] [--queue-ms 400] [--tcp-cc reno]
 *
 * The TCP flow uses reno by default: loss-based like the cubic of home computers, so it fills
 * the deep queue (cubic cannot be chosen inside a namespace here, and this host's default, bbr,
 * keeps the queue nearly empty; `--tcp-cc bbr` runs with it).
 * Needs root, iproute2 (tc) and iptables. Namespaces and processes are removed at the end, on
 * failure and on Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BottleneckLab,
  rateBetween,
  SERVER_IP,
  type TimedCommand,
  type TimedLine,
  until,
} from '../test/support/bottleneck';
import { natLabUnavailable } from '../test/support/netns';
import { type Figures, median, percentile, printLine, round, writeSummary } from './report';

const HTTP_PORT = 18100;
const SERVER_URL = `http://${SERVER_IP}:${HTTP_PORT}`;
const TCP_PORT = 5201;
/** TCP's slow start and the first queue fill are not part of the measurement. */
const TCP_WARMUP_S = 3;
/** Viewers connect, the downloaders find U and settle. */
const SWARM_WARMUP_S = 12;
/** U's upload measured before the TCP flow starts and after it stops. */
const SPARE_S = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mbps = (bytesPerS: number | null) => (bytesPerS === null ? null : round((bytesPerS * 8) / 1e6, 3));

interface Options {
  seconds: number;
  downloaders: number;
  capKbps: number;
  capSeconds: number;
  rateMbit: number;
  queueMs: number;
  tcpCc: string;
}

class Bench {
  private data: string | null = null;

  constructor(
    readonly lab: BottleneckLab,
    readonly o: Options,
  ) {}

  async startServer(): Promise<void> {
    this.data = await mkdtemp(join(tmpdir(), 'sct-tcpf-server-'));
    await this.lab.startServer(HTTP_PORT, this.data);
    await sleep(3000); // a window of segments to start from
  }

  async close(): Promise<void> {
    await this.lab.destroy();
    if (this.data) await rm(this.data, { recursive: true, force: true });
  }

  /**
   * Samples the bottleneck every 500 ms for `ms`, printing one line a second; returns the
   * queueing-delay samples (ms) and the drops.
   */
  private async watch(
    run: string,
    ms: number,
    sink: TimedCommand | null,
    u: TimedCommand | null,
  ): Promise<{ delays: number[]; drops: number }> {
    const start = Date.now();
    const q0 = await this.lab.qdisc();
    const delays: number[] = [];
    let lastDrops = q0.drops;
    let lastSink = Number(sink?.last()?.bytes ?? 0);
    let lastAt = start;
    let tick = 0;
    while (Date.now() - start < ms) {
      await sleep(500);
      const q = await this.lab.qdisc();
      delays.push(q.backlogMs);
      if (++tick % 2 === 0) {
        const now = Date.now();
        const sinkBytes = Number(sink?.last()?.bytes ?? 0);
        printLine({
          run,
          t: round((now - start) / 1000, 1),
          tcp_mbps: sink ? round(((sinkBytes - lastSink) * 8) / 1000 / (now - lastAt), 2) : null,
          upload_kbps: u ? (u.last()?.upload_kbps ?? null) : null,
          queue_delay_ms: round(q.backlogMs, 1),
          drops: q.drops - lastDrops,
        });
        lastSink = sinkBytes;
        lastAt = now;
        lastDrops = q.drops;
      }
    }
    const q1 = await this.lab.qdisc();
    return { delays, drops: q1.drops - q0.drops };
  }

  /** A TCP flow alone, or beside whatever runs already (`u`); Mbit/s over `seconds`. */
  async tcpRun(run: string, u: TimedCommand | null): Promise<Figures> {
    const { sink, source } = await this.lab.startBulkTcp(TCP_PORT);
    await sleep(TCP_WARMUP_S * 1000);
    const from = Date.now();
    const { delays, drops } = await this.watch(run, this.o.seconds * 1000, sink, u);
    const to = Date.now();
    await sleep(300); // the sink's next line
    await this.lab.stop(source.child);
    await this.lab.stop(sink.child);
    const upload = u ? rateBetween(u.lines, 'bytes_up', from, to + 1000) : null;
    const figures: Figures = {
      tcp_mbps: mbps(rateBetween(sink.lines, 'bytes', from, to)),
      upload_mbps: mbps(upload),
      queue_delay_ms_median: round(median(delays), 1),
      queue_delay_ms_p95: round(percentile(delays, 95), 1),
      drops,
    };
    printLine({ run, ...figures });
    return figures;
  }

  /** U in host A and the downloaders in host B; resolves once U is live and they started. */
  async startSwarm(uFlags: string[]): Promise<{ u: TimedCommand; downloaders: TimedCommand[] }> {
    const u = this.lab.swarmcastTimed(this.lab.ns.hostA, [
      'peer',
      '--server',
      SERVER_URL,
      '--channel',
      'demo',
      '--low-latency',
      ...uFlags,
    ]);
    await until(
      () => {
        if (u.child.exitCode !== null) throw new Error(`viewer U exited:\n${u.stderr.join('')}`);
        return u.lines.some((l) => l.state === 'live');
      },
      30_000,
      'viewer U live',
      () => u.stderr.join(''),
    );
    const downloaders = Array.from({ length: this.o.downloaders }, () =>
      this.lab.swarmcastTimed(this.lab.ns.hostB, ['peer', '--server', SERVER_URL, '--channel', 'demo']),
    );
    return { u, downloaders };
  }

  async stopSwarm(procs: { u: TimedCommand; downloaders: TimedCommand[] }): Promise<void> {
    await Promise.all([procs.u, ...procs.downloaders].map((p) => this.lab.stop(p.child)));
    await sleep(1000); // the queue drains
  }

  /** U's upload (bytes/s) over the next `seconds`, nothing else on the link. */
  async uploadOnly(run: string, u: TimedCommand, seconds: number): Promise<number | null> {
    const from = Date.now();
    await this.watch(run, seconds * 1000, null, u);
    return rateBetween(u.lines, 'bytes_up', from, Date.now() + 500);
  }

  /** (b) or (c): U uploading, then a TCP flow beside it, then U alone again. */
  async besideRun(run: string, uFlags: string[]): Promise<Figures> {
    const swarm = await this.startSwarm(uFlags);
    try {
      await sleep(SWARM_WARMUP_S * 1000);
      const before = await this.uploadOnly(`${run}:before-tcp`, swarm.u, SPARE_S);
      const beside = await this.tcpRun(run, swarm.u);
      const after = await this.uploadOnly(`${run}:after-tcp`, swarm.u, SPARE_S);
      const figures: Figures = {
        ...beside,
        upload_mbps_before_tcp: mbps(before),
        upload_mbps_after_tcp: mbps(after),
        ...streamHealth(swarm.downloaders),
      };
      printLine({ run, ...figures });
      return figures;
    } finally {
      await this.stopSwarm(swarm);
    }
  }

  /** (d): U with a set cap, no TCP: |measured − cap| / cap. */
  async capRun(): Promise<Figures> {
    const swarm = await this.startSwarm(['--upload-cap', String(this.o.capKbps)]);
    try {
      await sleep(SWARM_WARMUP_S * 1000);
      const rate = await this.uploadOnly('cap', swarm.u, this.o.capSeconds);
      const kbps = rate === null ? null : (rate * 8) / 1000;
      const figures: Figures = {
        cap_kbps: this.o.capKbps,
        cap_measured_kbps: kbps === null ? null : round(kbps, 1),
        cap_error_pct:
          kbps === null ? null : round((Math.abs(kbps - this.o.capKbps) / this.o.capKbps) * 100, 2),
      };
      printLine({ run: 'cap', ...figures });
      return figures;
    } finally {
      await this.stopSwarm(swarm);
    }
  }
}

/** How the downloaders fared (P2P share, stalls) over the whole run. */
function streamHealth(downloaders: TimedCommand[]): Figures {
  const finals: TimedLine[] = downloaders.map((d) => d.last() ?? { _at: 0 });
  const sum = (k: string) => finals.reduce((a, f) => a + Number(f[k] ?? 0), 0);
  const received = sum('bytes_p2p') + sum('bytes_cdn');
  return {
    downloaders_p2p_share: received > 0 ? round(sum('bytes_p2p') / received, 3) : null,
    downloaders_stalls: sum('stalls'),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      downloaders: { type: 'string', default: '4' },
      cap: { type: 'string', default: '3000' },
      'cap-seconds': { type: 'string', default: '30' },
      rate: { type: 'string', default: '10' },
      'queue-ms': { type: 'string', default: '400' },
      'tcp-cc': { type: 'string', default: 'reno' },
    },
  });
  const o: Options = {
    seconds: Number(values.seconds),
    downloaders: Number(values.downloaders),
    capKbps: Number(values.cap),
    capSeconds: Number(values['cap-seconds']),
    rateMbit: Number(values.rate),
    queueMs: Number(values['queue-ms']),
    tcpCc: values['tcp-cc'],
  };
  const unavailable = natLabUnavailable(['ip', 'iptables', 'iptables-save', 'tc']);
  if (unavailable) throw new Error(`cannot run: ${unavailable}`);

  const lab = await BottleneckLab.create({
    uplink: { rateMbit: o.rateMbit, latencyMs: o.queueMs },
    isolateB: true,
    tcpCongestion: o.tcpCc,
  });
  const bench = new Bench(lab, o);
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (closing) return;
      closing = true;
      void bench.close().finally(() => process.exit(130));
    });
  }
  try {
    await bench.startServer();
    const alone = await bench.tcpRun('tcp-alone', null);
    const controlled = await bench.besideRun('beside-swarmcast', []);
    const uncontrolled = await bench.besideRun('beside-uncontrolled', ['--no-rate-control']);
    const cap = await bench.capRun();
    const share = (beside: Figures) =>
      typeof beside.tcp_mbps === 'number' && typeof alone.tcp_mbps === 'number' && alone.tcp_mbps > 0
        ? round(beside.tcp_mbps / alone.tcp_mbps, 3)
        : null;
    await writeSummary('tcp-friendly', {
      link_mbit: o.rateMbit,
      queue_ms: o.queueMs,
      tcp_cc: o.tcpCc,
      seconds: o.seconds,
      downloaders: o.downloaders,
      tcp_mbps_alone: alone.tcp_mbps ?? null,
      tcp_mbps_beside_swarmcast: controlled.tcp_mbps ?? null,
      tcp_mbps_beside_uncontrolled: uncontrolled.tcp_mbps ?? null,
      tcp_share_kept: share(controlled),
      tcp_share_kept_uncontrolled: share(uncontrolled),
      upload_mbps_swarmcast: controlled.upload_mbps ?? null,
      upload_mbps_uncontrolled: uncontrolled.upload_mbps ?? null,
      upload_mbps_swarmcast_without_tcp: controlled.upload_mbps_before_tcp ?? null,
      upload_mbps_swarmcast_after_tcp: controlled.upload_mbps_after_tcp ?? null,
      queue_delay_ms_alone: alone.queue_delay_ms_median ?? null,
      queue_delay_ms_beside_swarmcast: controlled.queue_delay_ms_median ?? null,
      queue_delay_ms_beside_uncontrolled: uncontrolled.queue_delay_ms_median ?? null,
      downloaders_stalls_swarmcast: controlled.downloaders_stalls ?? null,
      cap_kbps: cap.cap_kbps ?? null,
      cap_measured_kbps: cap.cap_measured_kbps ?? null,
      cap_error_pct: cap.cap_error_pct ?? null,
    });
  } finally {
    closing = true;
    await bench.close();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:tcp-friendly failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

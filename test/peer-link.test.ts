/**
 * PeerLink over real node-datachannel connections on loopback: the order in which the offering
 * side signals (its candidates only after the answer is applied), and that links open with it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type LinkEvents, PeerLink, type SignalData } from '../main/p2p/peer-link';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';

interface Side {
  link: PeerLink;
  /** What this side asked to relay, in order. */
  sent: SignalData[];
  opened: Promise<void>;
}

const links: PeerLink[] = [];
afterEach(() => {
  for (const l of links.splice(0)) l.close('test over', null);
});

function side(id: string, initiator: boolean, relay: (data: SignalData) => void): Side {
  const sent: SignalData[] = [];
  let opened!: () => void;
  const events: LinkEvents = {
    open: () => opened(),
    message() {},
    close() {},
    signal: (_link, data) => {
      sent.push(data);
      relay(data);
    },
    writable() {},
  };
  const promise = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const link = new PeerLink(id, initiator, [], events, memoryLog());
  links.push(link);
  return { link, sent, opened: promise };
}

const kinds = (s: SignalData[]) => s.map((d) => d.kind);

describe('PeerLink signalling', () => {
  it('the offering side holds its candidates until the answer is applied, then sends them and opens', async () => {
    const toAnswerer: SignalData[] = [];
    const toOfferer: SignalData[] = [];
    const offerer = side('answerer-id', true, (d) => toAnswerer.push(d));
    const answerer = side('offerer-id', false, (d) => toOfferer.push(d));
    // Long enough for the offerer's host candidates to be gathered.
    await sleep(300);
    expect(kinds(offerer.sent)).toEqual(['offer']);

    for (const d of toAnswerer.splice(0)) answerer.link.handleSignal(d);
    // The answerer's own candidates are not held.
    await until(() => kinds(answerer.sent).includes('candidate'), 10_000, "the answerer's candidates");
    expect(kinds(answerer.sent)[0]).toBe('answer');
    expect(kinds(answerer.sent)).toContain('candidate');
    expect(kinds(offerer.sent)).toEqual(['offer']);

    const answer = toOfferer.findIndex((d) => d.kind === 'answer');
    offerer.link.handleSignal(toOfferer[answer]!);
    const held = kinds(offerer.sent).slice(1);
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((k) => k === 'candidate')).toBe(true);

    // From here on everything flows as it comes.
    const pump = setInterval(() => {
      for (const d of toAnswerer.splice(0)) answerer.link.handleSignal(d);
      for (const d of toOfferer.splice(0)) if (d.kind === 'candidate') offerer.link.handleSignal(d);
    }, 5);
    try {
      await Promise.all([offerer.opened, answerer.opened]);
    } finally {
      clearInterval(pump);
    }
    expect(offerer.link.isOpen && answerer.link.isOpen).toBe(true);
  });

  it('links open when signals are relayed as they come', async () => {
    let offerer!: Side;
    let answerer!: Side;
    offerer = side('b', true, (d) => setImmediate(() => answerer.link.handleSignal(d)));
    answerer = side('a', false, (d) => setImmediate(() => offerer.link.handleSignal(d)));
    await Promise.all([offerer.opened, answerer.opened]);
    expect(offerer.link.isOpen && answerer.link.isOpen).toBe(true);
  });
});

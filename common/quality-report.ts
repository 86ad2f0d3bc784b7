/**
 * Quality reports: what a viewer tells the log servers named in channel info, in batches, every
 * few seconds of watching. One schema for the viewer that sends and the log server that checks;
 * every field is bounded, a batch is capped in count and bytes, and counters are deltas over the
 * report's period (the log server adds them up, so a lost or repeated batch skews a counter by
 * one period at most).
 */
import * as z from 'zod';
import { channelIdSchema } from './tracker-protocol';

/** POSTed below each log server's base URL. */
export const REPORTS_PATH = '/api/reports';
export const REPORT_VERSION = 1;
/** GET below a log server's base URL + channel id: the room's summary (roomSummarySchema). */
export const ROOMS_PATH = '/api/rooms/';

/** A channel's room as the log server sees it from reports (the streamer's Go-live view). */
export const roomSummarySchema = z.object({
  channel: channelIdSchema,
  /** Viewers that reported in the last 30 s. */
  reportingViewers: z.number().int().min(0),
  /** Bytes from other viewers / all bytes received, over the last minute; null without reports. */
  p2pShare: z.number().min(0).max(1).nullable(),
  /** Bytes viewers got from each other since the log server started. */
  cdnBytesSaved: z.number().min(0),
  at: z.number().min(0),
});
export type RoomSummary = z.infer<typeof roomSummarySchema>;
/** A batch's body may not be larger than this (the log server answers 413). */
export const MAX_REPORT_BATCH_BYTES = 64 * 1024;
export const MAX_REPORTS_PER_BATCH = 30;
/** Longest period one report may cover (s): viewers report every 10 s. */
export const MAX_REPORT_PERIOD_S = 120;
export const MAX_ERROR_KINDS = 8;
/** Anything a viewer could receive in one period (10 GB) is far above any real stream. */
const MAX_PERIOD_BYTES = 10_000_000_000;

const count = z.number().int().min(0).max(1_000_000);
const bytes = z.number().int().min(0).max(MAX_PERIOD_BYTES);
const seconds = z.number().min(0).max(MAX_REPORT_PERIOD_S);
const shortText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** How this viewer's peer links got through NATs: selected local candidate types, counted. */
export const connectivitySchema = z.object({
  host: count,
  srflx: count,
  relay: count,
});

export const qualityReportSchema = z
  .object({
    v: z.literal(REPORT_VERSION),
    /** A random id per viewing session (not the peer id, not stable across launches). */
    viewer: z.string().regex(/^[a-f0-9]{16}$/),
    channel: channelIdSchema,
    /** The viewer's wall clock at the end of the period (ms since the epoch). */
    at: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** Seconds the report covers, and of those, seconds spent playing (not stalled or paused). */
    periodS: seconds,
    watchS: seconds,
    /** Time to first frame; only in the first report after the first frame. */
    startupMs: z.number().min(0).max(600_000).nullable(),
    /** Stalls that began in this period and the seconds spent stalled in it. */
    stalls: count,
    stallS: seconds,
    /** Distance behind the live edge at the end of the period (s), when known. */
    latencyS: z.number().min(0).max(3600).nullable(),
    /** Bytes received in the period by where they came from. */
    bytes: z.object({ cdn: bytes, peer: bytes, seed: bytes }),
    uploadBytes: bytes,
    peers: count,
    connectivity: connectivitySchema,
    /** Errors seen in the period, by kind (e.g. "hash-mismatch", "peer-banned", "cdn-error"). */
    errors: z.record(shortText(48), count).refine((r) => Object.keys(r).length <= MAX_ERROR_KINDS, {
      message: `at most ${MAX_ERROR_KINDS} error kinds`,
    }),
    app: z.object({
      version: shortText(32),
      platform: z.enum(['win32', 'darwin', 'linux', 'other']),
      mode: z.enum(['desktop', 'web', 'headless']),
    }),
  })
  .strict()
  .refine((r) => r.watchS + r.stallS <= r.periodS + 1, { message: 'watchS + stallS exceed periodS' });
export type QualityReport = z.infer<typeof qualityReportSchema>;

export const reportBatchSchema = z
  .object({ reports: z.array(qualityReportSchema).min(1).max(MAX_REPORTS_PER_BATCH) })
  .strict();
export type ReportBatch = z.infer<typeof reportBatchSchema>;

/** The platform field of a report for a Node `process.platform`. */
export function reportPlatform(platform: string): QualityReport['app']['platform'] {
  return platform === 'win32' || platform === 'darwin' || platform === 'linux' ? platform : 'other';
}

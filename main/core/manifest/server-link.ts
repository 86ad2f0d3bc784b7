/**
 * The core's calls to the server in use that the UI asks for directly — the channel list and
 * the Go-live view's ingest addresses and room figures — with the server watch beside them, so
 * that every such call that gets through, or cannot reach the server, also tells the badge.
 */
import type { InvokeResponse, ServerStatus } from '../../../common/ipc-contract';
import type { ChannelSummary } from '../../../common/manifest';
import { ComClient } from './com-client';
import { OriginError } from './origin-http';
import { ServerWatch } from './server-watch';

export class ServerLink {
  private readonly watch: ServerWatch;

  constructor(
    /** The server's base URL now (settings may change it). */
    private readonly url: () => string,
    onStatus: (status: ServerStatus) => void,
    /** When the server last answered a channel's requests (ServerWatchOptions.heardFrom). */
    heardFrom?: (url: string) => number | null,
  ) {
    this.watch = new ServerWatch({ url, onChange: onStatus, heardFrom });
  }

  start(): void {
    this.watch.start();
  }

  /** The server changed (settings): probe now. */
  poke(): void {
    this.watch.poke();
  }

  close(): void {
    this.watch.close();
  }

  get status(): ServerStatus {
    const s = this.watch.current;
    return s.checkedAt === 0 ? { ...s, url: this.url() } : s;
  }

  listChannels(): Promise<ChannelSummary[]> {
    return this.watched(new ComClient(this.url()).listChannels());
  }

  /** Where a streamer publishes, built on the host the core reaches the server by. */
  async goLiveInfo(embeddedServer: boolean): Promise<InvokeResponse<'golive.info'>> {
    const serverUrl = this.url();
    const ingest = await this.watched(new ComClient(serverUrl).ingestInfo());
    // WHATWG URL keeps an IPv6 hostname in brackets, as an rtmp:// URL needs it.
    const host = new URL(serverUrl).hostname;
    return {
      serverUrl,
      embeddedServer,
      rtmpUrl: ingest.rtmpPort === null ? '' : `rtmp://${host}:${ingest.rtmpPort}/live`,
      httpIngestUrl: `${serverUrl}/ingest`,
      keysRequired: ingest.keysRequired,
    };
  }

  /** A streamer's room: its channel list entry, and the log service's summary when it has one. */
  async goLiveRoom(channel: string): Promise<InvokeResponse<'golive.room'>> {
    const com = new ComClient(this.url());
    const [list, room] = await Promise.all([
      this.watched(com.listChannels()),
      com.roomSummary(channel).catch(() => null),
    ]);
    const entry = list.find((c) => c.id === channel);
    return {
      channel,
      live: entry?.live ?? false,
      viewers: entry?.viewers ?? null,
      p2pShare: room?.p2pShare ?? null,
      cdnBytesSaved: room?.cdnBytesSaved ?? null,
    };
  }

  private async watched<T>(pending: Promise<T>): Promise<T> {
    try {
      const value = await pending;
      this.watch.observe(true, null);
      return value;
    } catch (err) {
      if (err instanceof OriginError && err.status === 0) this.watch.observe(false, err.message);
      throw err;
    }
  }
}

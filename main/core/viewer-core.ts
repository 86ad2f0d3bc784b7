import type { ViewerCore, ViewerCoreOptions } from './viewer-core-api';

// Placeholder while the core is being written; replaced by the real implementation.
export async function startViewerCore(_opts: ViewerCoreOptions): Promise<ViewerCore> {
  throw new Error('viewer core not available yet');
}

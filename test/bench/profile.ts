import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A V8 .cpuprofile as `node --cpu-prof` writes it (the fields used here). */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  /** `function (file:line)`, file shortened to the package or module. */
  readonly where: string;
  /** Share of the processes' busy samples (idle excluded) spent in this function itself. */
  readonly selfPercent: number;
}

function shorten(url: string): string {
  if (url === '') return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url) ?? /\/(packages|services)\/([^/]+)\//.exec(url);
  if (m !== null) return m[2] !== undefined && (m[1] === 'packages' || m[1] === 'services') ? `${m[1]}/${m[2]}` : (m[1] ?? url);
  return url.replace(/^.*\//, '');
}

/** Self time by function over every profile in `dir` (one per process), the top `limit`. */
export async function hotSpots(dir: string, limit = 12): Promise<HotSpot[]> {
  const totals = new Map<string, number>();
  let all = 0;
  for (const f of (await readdir(dir).catch(() => [])).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile;
    for (const n of p.nodes) {
      const hits = n.hitCount ?? 0;
      // Share of the busy time: waiting is not where CPU goes.
      if (hits === 0 || n.callFrame.functionName === '(idle)') continue;
      const name = n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName;
      const key = `${name} (${shorten(n.callFrame.url)})`;
      totals.set(key, (totals.get(key) ?? 0) + hits);
      all += hits;
    }
  }
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([where, hits]) => ({ where, selfPercent: Math.round((hits * 1000) / Math.max(1, all)) / 10 }));
}

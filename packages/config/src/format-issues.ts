import type { z } from 'zod';

/** `['datacenters', 1, 's3', 'bucket']` -> `datacenters[1].s3.bucket` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * One readable line per zod issue, naming the field. `describeSource` can add where a value
 * came from (e.g. an environment override), so the operator knows what to edit.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  describeSource: (path: string) => string | undefined = () => undefined,
): string[] {
  return issues.map((issue) => {
    const path = formatPath(issue.path);
    const source = describeSource(path);
    const message = issue.code === 'invalid_type' && issue.message.includes('received undefined') ? 'is required' : issue.message;
    return `${path}: ${message}${source === undefined ? '' : ` (set by ${source})`}`;
  });
}

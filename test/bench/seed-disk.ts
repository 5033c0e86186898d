import { spawn } from 'node:child_process';

/**
 * Writes objects straight onto a local s3proxy's disk (filesystem backend), in exactly the layout
 * it writes itself (infra/S3PROXY_NOTES.md): the bytes in `<bucket dir>/<key>`, and in extended
 * attributes `user.user.content-md5` (raw MD5, from which it derives the ETag),
 * `user.user.content-type`, `user.user.storage-tier` and `user.user.user-metadata.<name>`.
 *
 * Why: the reconcile scenario needs 100,000 objects in each of three datacenters, and this s3proxy
 * accepts about 300 small PutObjects per second on this machine (17 minutes for 300,000). Written
 * on disk they take seconds. Node has no xattr API, Python has (os.setxattr). The bench checks
 * a sample through the S3 API afterwards (ETag, size, metadata), so a layout change in s3proxy
 * fails loudly instead of measuring nonsense.
 */
const SEEDER = String.raw`
import hashlib, json, os, sys, uuid
spec = json.load(sys.stdin)
base = spec["dir"]
made = set()
for o in spec["objects"]:
    path = os.path.join(base, *o["key"].split("/"))
    d = os.path.dirname(path)
    if d not in made:
        os.makedirs(d, exist_ok=True)
        made.add(d)
    if o.get("delete"):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        continue
    body = o["body"].encode()
    tmp = path + ".seed-tmp"
    with open(tmp, "wb") as f:
        f.write(body)
    os.setxattr(tmp, "user.user.content-md5", hashlib.md5(body).digest())
    os.setxattr(tmp, "user.user.content-type", b"application/octet-stream")
    os.setxattr(tmp, "user.user.storage-tier", b"STANDARD")
    meta = {"shardsync-version": o["version"], "shardsync-sha256": hashlib.sha256(body).hexdigest(), "shardsync-event-id": str(uuid.uuid4())}
    for k, v in meta.items():
        os.setxattr(tmp, "user.user.user-metadata." + k, v.encode())
    os.replace(tmp, path)
print(len(spec["objects"]))
`;

export interface SeedObject {
  /** Bucket key. */
  readonly key: string;
  readonly body?: string | undefined;
  /** shardsync version string. */
  readonly version?: string | undefined;
  /** Remove the file instead. */
  readonly delete?: boolean | undefined;
}

export const PYTHON_MISSING = 'python3 is not installed; the reconcile scenario seeds its 300,000 objects with it (apt-get install -y python3)';

/** Writes (or deletes) the objects under one bucket directory. */
export function seedOnDisk(bucketDir: string, objects: readonly SeedObject[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SEEDER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.resume();
    child.once('error', (e) => reject(new Error(`${PYTHON_MISSING} (${e.message})`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seeding ${bucketDir} failed (exit ${code}): ${err.slice(-2000)}`))));
    child.stdin.end(JSON.stringify({ dir: bucketDir, objects }));
  });
}

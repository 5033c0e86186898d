import { ObjectStoreConfigError } from './errors.js';

/**
 * How a datacenter's credentials are found. Never the secrets themselves, only where they live.
 * `none` is for servers that do not check signatures (the local s3proxy): requests are signed with
 * a fixed placeholder. Same shape as the topology file's `credentials`.
 */
export type S3Credentials =
  | { readonly type: 'none' }
  | { readonly type: 'env'; readonly accessKeyIdEnv: string; readonly secretAccessKeyEnv: string; readonly sessionTokenEnv?: string | undefined };

/** Credentials as the SDK takes them. */
export interface ResolvedS3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Not a secret: signs requests for servers that run without authorization. */
const PLACEHOLDER_CREDENTIALS: ResolvedS3Credentials = { accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' };

/** Reads credentials from the environment variables the config names; a missing one is named in the error. */
export function resolveS3Credentials(credentials: S3Credentials, env: NodeJS.ProcessEnv = process.env): ResolvedS3Credentials {
  if (credentials.type === 'none') return PLACEHOLDER_CREDENTIALS;
  const read = (variable: string, what: string): string => {
    const value = env[variable];
    if (value === undefined || value === '') {
      throw new ObjectStoreConfigError(`environment variable ${variable} is not set; the datacenter's S3 credentials name it as the ${what}`);
    }
    return value;
  };
  const accessKeyId = read(credentials.accessKeyIdEnv, 'access key id');
  const secretAccessKey = read(credentials.secretAccessKeyEnv, 'secret access key');
  if (credentials.sessionTokenEnv === undefined) return { accessKeyId, secretAccessKey };
  return { accessKeyId, secretAccessKey, sessionToken: read(credentials.sessionTokenEnv, 'session token') };
}

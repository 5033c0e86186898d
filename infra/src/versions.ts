/**
 * Pinned server versions and the Maven artifacts that make them runnable. See KAFKA_COMPAT.md and
 * S3PROXY_NOTES.md for why these versions.
 */

/** Newest Kafka that kafkajs 2.2.4 was verified against (KAFKA_COMPAT.md). Env: SHARDSYNC_KAFKA_VERSION. */
export const DEFAULT_KAFKA_VERSION = '4.1.1';

/**
 * s3proxy 4.1.0: the first line verified to honour `If-None-Match: *` / `If-Match` on PutObject and
 * to accept the AWS SDK v3 default checksum headers (2.6.0 does neither, S3PROXY_NOTES.md).
 * Env: SHARDSYNC_S3PROXY_VERSION.
 */
export const DEFAULT_S3PROXY_VERSION = '4.1.0';

/** The pinned maven-dependency-plugin, so a fresh machine resolves the same plugin as this one. */
export const MAVEN_DEPENDENCY_PLUGIN_VERSION = '3.8.1';

export interface MavenCoordinate {
  groupId: string;
  artifactId: string;
  version: string;
}

/** What to fetch into one cache directory: the direct dependencies and any versions to force. */
export interface ArtifactSet {
  /** Directory name under the cache dir, e.g. `kafka-4.1.1`. */
  name: string;
  dependencies: MavenCoordinate[];
  /** `<dependencyManagement>` entries: versions forced over Maven's nearest-wins choice. */
  managed: MavenCoordinate[];
}

/** Major version number of a dotted version string (`4.1.1` gives 4). */
export function majorVersion(version: string): number {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  if (!Number.isFinite(major)) throw new Error(`"${version}" is not a dotted version such as 4.1.1`);
  return major;
}

/**
 * The published `kafka_2.13` pom names slf4j-api but no binding, so without one the broker logs
 * nothing. Kafka 4 ships log4j2 (configured by log4j2.* files); Kafka 3 ships reload4j (log4j 1 API).
 */
export function kafkaArtifactSet(version: string): ArtifactSet {
  const logging: MavenCoordinate[] =
    majorVersion(version) >= 4
      ? [
          { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: '2.24.3' },
          { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: '2.24.3' },
        ]
      : [{ groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' }];
  return {
    name: `kafka-${version}`,
    dependencies: [{ groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version }, ...logging],
    managed: [],
  };
}

/**
 * s3proxy 4 uses Jackson 3, which needs jackson-annotations 2.20 or newer; Maven's nearest-wins
 * rule picks 2.18 from the jclouds side and the server dies with NoClassDefFoundError
 * (JsonSerializeAs). The version its own Jackson BOM names is forced here.
 */
export function s3proxyArtifactSet(version: string): ArtifactSet {
  return {
    name: `s3proxy-${version}`,
    dependencies: [{ groupId: 'org.gaul', artifactId: 's3proxy', version }],
    managed: majorVersion(version) >= 4 ? [{ groupId: 'com.fasterxml.jackson.core', artifactId: 'jackson-annotations', version: '2.22' }] : [],
  };
}

export { stackInfo, stackDatacenter, type StackInfo } from './stack-info.js';
export { uniqueName } from './names.js';
export { rawS3Client, createTestBucket, emptyAndDeleteBucket, type TestBucket } from './s3.js';
export { testKafka, testAdmin, createTestTopic } from './kafka.js';
export { testRedis } from './redis.js';
export { createTestTopology, type TestTopologyOptions } from './topology.js';
export { waitFor } from './wait.js';
export { stopStackServer, objectFilePath, corruptObjectOnDisk } from './faults.js';
export { readTopic, type TopicMessage } from './read-topic.js';

// Package objstore reads data sets from object storage: s3:// (AWS S3 and
// S3-compatible servers), gs:// (Google Cloud Storage) and az:// (Azure
// Blob Storage) URLs, through gocloud.dev/blob, into a local cache that the
// data readers then read like any file. Importing it registers its schemes
// with package data (data.RegisterFetcher): ferry does, ferry-serve, which
// reads no data, does not, and links none of the clouds' SDKs.
//
// A URL names one object, a "directory" (every .parquet/.pq object under a
// prefix ending in /) or a glob over keys (*, ?, [...] within a name, **
// across "directories"), as local paths do:
//
//	s3://clicks/dt=*/part-*.parquet
//
// Each object is pinned when it is listed: its size, ETag and, in a
// versioned bucket, its version. It is then read by that pin only, in
// parallel byte ranges: S3 reads the pinned version, or the object only
// while its ETag still matches (If-Match), so an object that changes or
// disappears mid-read is an error that names it, never a mix of two
// versions. A range cut short is resumed where it stopped, a few times. The
// finished object is renamed into the cache under a key made of its URL and
// pin, so a later read of the same snapshot reads no byte from the network,
// and a changed object is fetched again.
//
// Credentials come from each cloud's usual chain, which covers a runner's
// OIDC-federated ones: AWS's environment, shared files and web identity
// (aws-actions/configure-aws-credentials), Google's application default
// credentials, Azure's DefaultAzureCredential. An S3-compatible server is
// named by AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) and is addressed by
// path. A credential variable that is set but empty is an error, not a
// fall-through to another identity.
package objstore

package objstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
	"gocloud.dev/gcp"
)

// Schemes are the URL schemes ferry reads data from, besides local paths.
var Schemes = []string{"s3", "gs", "az"}

// IsURL reports whether s names object storage rather than a local path.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && slices.Contains(Schemes, scheme)
}

// Location is an object URL taken apart.
type Location struct {
	Scheme, Bucket string
	Key            string // the key, a prefix or a glob over keys; no leading /
}

// URL is the location as the user writes it.
func (l Location) URL() string { return l.Scheme + "://" + l.Bucket + "/" + l.Key }

// object is the URL of one key in l's bucket.
func (l Location) object(key string) string { return l.Scheme + "://" + l.Bucket + "/" + key }

// Parse takes an s3://, gs:// or az:// URL apart.
func Parse(raw string) (Location, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !IsURL(raw) {
		return Location{}, &InputError{URL: raw, Msg: "not an object URL: want s3://BUCKET/KEY, gs://BUCKET/KEY or az://CONTAINER/KEY"}
	}
	bucket, key, _ := strings.Cut(rest, "/")
	switch {
	case bucket == "":
		return Location{}, &InputError{URL: raw, Msg: "no bucket: want " + scheme + "://BUCKET/KEY"}
	case strings.ContainsAny(bucket, "*?[{"):
		return Location{}, &InputError{URL: raw, Msg: "a glob in the bucket's name: globs match keys within one bucket"}
	}
	return Location{Scheme: scheme, Bucket: bucket, Key: key}, nil
}

// openBucket opens loc's bucket with the cloud's default credentials.
func openBucket(ctx context.Context, loc Location) (*blob.Bucket, error) {
	switch loc.Scheme {
	case "s3":
		return openS3(ctx, loc.Bucket)
	case "gs":
		return openGCS(ctx, loc.Bucket)
	case "az":
		return openAzure(ctx, loc)
	}
	return nil, &InputError{URL: loc.URL(), Msg: "unknown scheme"}
}

// openS3 opens an S3 bucket with the AWS SDK's default chain: the
// environment, shared config and credentials files, web identity (a
// runner's OIDC token) and the instance's role. AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL names an S3-compatible server, addressed by path as
// those expect; its region defaults to us-east-1.
func openS3(ctx context.Context, bucket string) (*blob.Bucket, error) {
	if err := checkCredentials("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"); err != nil {
		return nil, err
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3") + os.Getenv("AWS_ENDPOINT_URL")
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" && endpoint != "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Region == "" {
		return nil, &InputError{URL: "s3://" + bucket, Msg: "no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials sets it on a runner)"}
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = endpoint != ""
		o.DisableLogOutputChecksumValidationSkipped = true // servers without checksums are fine: the set is hashed as it is read
	})
	return s3blob.OpenBucket(ctx, client, bucket, nil)
}

// openGCS opens a Cloud Storage bucket with Google's application default
// credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, a workload
// identity federation file, the metadata server), read afresh each time.
func openGCS(ctx context.Context, bucket string) (*blob.Bucket, error) {
	if v, ok := os.LookupEnv("GOOGLE_APPLICATION_CREDENTIALS"); ok && v == "" {
		return nil, &InputError{URL: "GOOGLE_APPLICATION_CREDENTIALS", Msg: "set but empty: give the credentials file (google-github-actions/auth writes one), or unset it to use the default chain"}
	}
	creds, err := gcp.DefaultCredentials(ctx)
	if err != nil {
		return nil, &Error{URL: "gs://" + bucket, Msg: "no Google credentials", Err: err}
	}
	client, err := gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
	if err != nil {
		return nil, err
	}
	return gcsblob.OpenBucket(ctx, client, bucket, nil)
}

// openAzure opens a container of AZURE_STORAGE_ACCOUNT with the
// environment's key, connection string or SAS token, else Azure's
// DefaultAzureCredential (a runner's federated identity), read afresh each
// time; AZURE_STORAGE_DOMAIN, _PROTOCOL and _IS_LOCAL_EMULATOR name
// another endpoint (Azurite).
func openAzure(ctx context.Context, loc Location) (*blob.Bucket, error) {
	for _, v := range []string{"AZURE_STORAGE_KEY", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN"} {
		if val, ok := os.LookupEnv(v); ok && val == "" {
			return nil, &InputError{URL: v, Msg: "set but empty (a secret that is not set?): give it, or unset it to use the default chain"}
		}
	}
	if os.Getenv("AZURE_STORAGE_ACCOUNT") == "" && os.Getenv("AZURE_STORAGE_CONNECTION_STRING") == "" {
		return nil, &InputError{URL: loc.URL(), Msg: "AZURE_STORAGE_ACCOUNT is not set: az:// URLs name a container of that storage account"}
	}
	svc, err := azureblob.NewServiceURL(azureblob.NewDefaultServiceURLOptions())
	if err != nil {
		return nil, &InputError{URL: loc.URL(), Msg: "the Azure storage endpoint: " + err.Error()}
	}
	client, err := azureblob.NewDefaultClient(svc, azureblob.ContainerName(loc.Bucket))
	if err != nil {
		return nil, &Error{URL: loc.URL(), Msg: "no Azure credentials", Err: err}
	}
	return azureblob.OpenBucket(ctx, client, nil)
}

// checkCredentials refuses a key pair that is half given or given empty
// (a workflow secret that is not set expands to ""): the SDK would quietly
// go on to another identity, or to none.
func checkCredentials(id, secret string) error {
	idv, idSet := os.LookupEnv(id)
	sv, sSet := os.LookupEnv(secret)
	switch {
	case idSet && idv == "":
		return &InputError{URL: id, Msg: "set but empty (a secret that is not set?): give the key's id, or unset it to use the default chain (OIDC, shared files, the instance's role)"}
	case sSet && sv == "":
		return &InputError{URL: secret, Msg: "set but empty (a secret that is not set?): give the secret key, or unset it with " + id}
	case idSet != sSet:
		return &InputError{URL: id, Msg: "needs " + secret + " beside it, and only one of the two is set"}
	}
	return nil
}

// Error is a problem reading from object storage: access refused, an
// object that changed or vanished mid-read, a network that failed.
type Error struct {
	URL string // the bucket or object
	Msg string
	Err error // the service's error, when there is one
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.URL + ": " + e.Msg
	}
	return e.URL + ": " + e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the service's error.
func (e *Error) Unwrap() error { return e.Err }

// InputError is a URL or a setting that cannot work as given: no object
// matches, a credential variable set empty. The user fixes it (exit 2).
type InputError struct {
	URL string // the URL, or the variable, as given
	Msg string
}

func (e *InputError) Error() string { return e.URL + ": " + e.Msg }

// BadInput marks the error as the user's to fix.
func (e *InputError) BadInput() {}

// refusals are S3's error codes for credentials the server turns away,
// which gocloud does not all map to PermissionDenied.
var refusals = map[string]bool{"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "InvalidToken": true, "TokenRefreshRequired": true, "AllAccessDisabled": true}

const changed = "changed while ferry read it (its ETag no longer matches the one listed): read again, or keep the data in a versioned bucket so that a read is pinned to a version"

// describe says what a service error means for the object at url, in the
// words a user acts on, with the service's own code and message kept.
func describe(b *blob.Bucket, url string, err error, during string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var api smithy.APIError
	service := ""
	if b != nil && b.ErrorAs(err, &api) {
		service = api.ErrorCode() + ": " + api.ErrorMessage()
	}
	var msg string
	code := gcerrors.Code(err)
	if api != nil && refusals[api.ErrorCode()] {
		code = gcerrors.PermissionDenied
	}
	switch code {
	case gcerrors.PermissionDenied:
		msg = "access refused: the server turned these credentials away for this object (a bucket or IAM policy, or a wrong or expired key)"
	case gcerrors.NotFound:
		msg = "not found"
		if during == "read" {
			msg = "disappeared while ferry read it"
		}
	case gcerrors.FailedPrecondition:
		msg = changed
	default:
		msg = "could not " + during + " it"
	}
	if service != "" {
		return &Error{URL: url, Msg: msg, Err: errors.New(service)}
	}
	return &Error{URL: url, Msg: msg, Err: err}
}

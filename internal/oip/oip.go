package oip

// Paths of the protocol's endpoints.
const (
	LivePath  = "/v2/health/live"
	ReadyPath = "/v2/health/ready"
)

// ModelPath is the model's metadata endpoint.
func ModelPath(model string) string { return "/v2/models/" + model }

// InferPath is the model's inference endpoint.
func InferPath(model string) string { return ModelPath(model) + "/infer" }

// Datatypes ferry uses: numbers are sent as FP32 and scored as float64,
// categories as BYTES (strings), scores come back as FP64.
const (
	FP32  = "FP32"
	FP64  = "FP64"
	Bytes = "BYTES"
)

// InferRequest is an inference request: one tensor per input feature, of
// shape [rows].
type InferRequest struct {
	ID     string        `json:"id,omitempty"`
	Inputs []InputTensor `json:"inputs"`
}

// InputTensor is one request tensor. Data holds numbers or, for BYTES,
// strings.
type InputTensor struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     []any   `json:"data"`
}

// InferResponse is the protocol's response body.
type InferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Outputs      []OutputTensor `json:"outputs"`
}

// OutputTensor is a response tensor.
type OutputTensor struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float64 `json:"data"`
}

// ModelMetadata is the model's metadata: what it takes and gives.
type ModelMetadata struct {
	Name       string            `json:"name"`
	Versions   []string          `json:"versions"`
	Platform   string            `json:"platform"`
	Inputs     []TensorMetadata  `json:"inputs"`
	Outputs    []TensorMetadata  `json:"outputs"`
	Parameters map[string]string `json:"parameters"`
}

// TensorMetadata describes one input or output; -1 in Shape is any size.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ErrorResponse is the body of every answer that is not a 200.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ferry-serve's Prometheus metrics, and their labels.
const (
	// MetricRequests counts requests by LabelEndpoint and LabelCode.
	MetricRequests = "ferry_serve_requests_total"
	// MetricDuration is a histogram of request latency by LabelEndpoint.
	MetricDuration = "ferry_serve_request_duration_seconds"
	// MetricRows counts the rows scored.
	MetricRows = "ferry_serve_rows_total"
	// MetricModelInfo is 1, labelled with the model served.
	MetricModelInfo = "ferry_serve_model_info"
	// MetricFeatureBins counts scored rows by LabelFeature and LabelBin: the
	// bins of the model's training profile (profile.json), so the series
	// are bounded by bins, not values.
	MetricFeatureBins = "ferry_serve_feature_bin_total"
	// MetricScoreBins counts the scores returned by LabelBin.
	MetricScoreBins = "ferry_serve_score_bin_total"
	// MetricProfiledRows counts the rows counted into the bins; it is absent
	// when the model has no profile.
	MetricProfiledRows = "ferry_serve_profiled_rows_total"

	LabelEndpoint = "endpoint"
	LabelCode     = "code"
	LabelFeature  = "feature"
	// LabelBin is a bin's index in the profile ("0", "1", ...), or
	// BinMissing.
	LabelBin   = "bin"
	BinMissing = "missing"
	// EndpointInfer is the endpoint label of inference requests.
	EndpointInfer = "infer"
)

// InferTensor is a request tensor of shape [len(data)].
func InferTensor(name, datatype string, data []any) InputTensor {
	return InputTensor{Name: name, Shape: []int64{int64(len(data))}, Datatype: datatype, Data: data}
}

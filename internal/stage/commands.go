package stage

import (
	"strconv"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/search"
	"github.com/ferry-ml/ferry/internal/serve"
	"github.com/ferry-ml/ferry/internal/version"
)

// Shorthands for the declarations below.
const (
	str   = input.String
	boolK = input.Bool
	intK  = input.Int
	float = input.Float
	dur   = input.Duration
	enum  = input.Enum
	list  = input.List
)

func configParam() input.Spec {
	return input.Spec{Name: "config", Kind: str, Usage: "Path to ferry.yaml; flags and inputs override its values. Default: ./ferry.yaml when it exists."}
}

// dataParams are the flags that say how to read a data file; train, predict
// and evaluate share them.
func dataParams(dataUsage string) []input.Spec {
	return []input.Spec{
		{Name: "data", Kind: str, Usage: dataUsage},
		{Name: "format", Kind: enum, Values: []string{"csv", "tsv", "libsvm", "parquet"}, Usage: "Format of the data files. Default: from the file name's extension (.parquet and .pq are Parquet)."},
		{Name: "delimiter", Kind: str, Usage: "Field delimiter of CSV data: one character such as ';', or tab. Default: detected from the header line."},
		{Name: "header", Kind: enum, Default: "auto", Values: []string{"auto", "true", "false"}, Usage: "Whether CSV/TSV data starts with column names; without them columns are named 0, 1, 2... auto: a first line of numbers only is data."},
		{Name: "label", Kind: str, Usage: "Name of the label column (CSV/TSV)."},
		{Name: "group", Kind: str, Usage: "Name of the query or session column that groups rows for ranking."},
		{Name: "categorical", Kind: list, Comma: true, Usage: "Columns to treat as categories. String columns are categorical anyway."},
		{Name: "drop", Kind: list, Comma: true, Usage: "Columns to ignore."},
		{Name: "partitions", Kind: boolK, Default: "false", Usage: "Read the Hive partition keys of a Parquet set's directories (dt=2026-12-01/) as columns named by their keys."},
	}
}

func tokenParam(why string) input.Spec {
	return input.Spec{Name: "github-token", Kind: str, Secret: true, Surface: input.InputOnly,
		Default: "${{ github.token }}", Usage: "Token for the GitHub API, " + why + "."}
}

func train() Command {
	return Command{
		Name:        "train",
		Action:      true,
		ActionTitle: "ferry train",
		Short:       "Train a candidate model with ferry's trainers or your own command",
		Long: `Train a model and write it as a ferry model directory (model.json beside the weights).

With --trainer builtin (the default) ferry trains it itself, on the CPU: gradient-boosted
trees (binary, regression, or LambdaMART ranking), an MLP, or logistic regression. With
--trainer command ferry runs your training command (PyTorch, XGBoost...) on the runner's GPUs,
in a container, or as a Kubernetes Job, and collects the model it writes to $FERRY_OUTPUT.`,
		Example: `  ferry train --data train.csv --valid valid.csv --label clicked \
    --algorithm gbdt --objective binary --param learning-rate=0.1 --out model/
  ferry train --data rank.train --format libsvm --algorithm gbdt --objective lambdarank --out ranker/
  ferry train --data clicks.csv --label clicked --algorithm auto --search --trials 30 --out model/
  ferry train --trainer command --run 'python train.py' --gpus all --out model/`,
		Params: append(append([]input.Spec{configParam()},
			dataParams("Training data: a CSV/TSV file with a header, or LibSVM.")...),
			input.Spec{Name: "valid", Kind: str, Usage: "Validation data for early stopping, in the same format. Default: none."},
			input.Spec{Name: "trainer", Kind: enum, Default: "builtin", Values: []string{"builtin", "command"}, Usage: "Who trains: ferry's own trainers, or your command."},
			input.Spec{Name: "algorithm", Kind: enum, Default: "gbdt", Values: []string{"gbdt", "mlp", "logistic", "auto"}, Usage: "Built-in algorithm; auto picks the best of them by cross-validation on the training rows, and says why in model.json."},
			input.Spec{Name: "objective", Kind: enum, Default: "binary", Values: []string{"binary", "regression", "lambdarank"}, Usage: "What the model predicts."},
			input.Spec{Name: "param", Kind: list, Usage: "Trainer parameter as key=value, such as learning-rate=0.1."},
			input.Spec{Name: "seed", Kind: intK, Default: "1", Usage: "Random seed; the same data, parameters and seed give the same model."},
			input.Spec{Name: "search", Kind: boolK, Default: "false", Usage: "Search the parameters first, in ferry.yaml's train.search.space or the algorithm's default space, by cross-validation on the training rows; the best trial is trained on every row, and every trial is kept in model.json."},
			input.Spec{Name: "strategy", Kind: enum, Default: "tpe", Values: search.Strategies, Usage: "How the search proposes trials: tpe (a tree-structured Parzen estimator after 10 random trials), random, or grid (3 points per range)."},
			input.Spec{Name: "trials", Kind: intK, Default: "20", Usage: "The search's budget of trials (shared among the candidates of --algorithm auto)."},
			input.Spec{Name: "search-time", Kind: dur, Default: "0s", Usage: "Start no trial after the search has run this long. Default: no limit."},
			input.Spec{Name: "folds", Kind: intK, Default: "5", Usage: "Cross-validation folds per trial (by query for ranking, stratified for binary); 0 scores on the --valid file instead."},
			input.Spec{Name: "parallel", Kind: intK, Default: "0", Usage: "Trials run at once, sharing the cores; proposed together, so the results depend on it and the seed, not on the machine. Default: 4 for ferry's trainers, 1 for the command trainer (its trials share the GPUs)."},
			input.Spec{Name: "run", Kind: str, Usage: "Your training command, run with FERRY_OUTPUT and FERRY_DATA_* in its environment (trainer: command)."},
			input.Spec{Name: "backend", Kind: enum, Default: "host", Values: []string{"host", "docker", "kubernetes"}, Usage: "Where your command runs (trainer: command); with the builtin trainer, kubernetes runs a search's trials on the cluster, an Indexed Job per batch."},
			input.Spec{Name: "image", Kind: str, Usage: "Training image for the docker and kubernetes backends."},
			input.Spec{Name: "gpus", Kind: str, Usage: "GPUs to use, as Docker's --gpus: all, a count such as 2, or device=0,1. Default: none."},
			input.Spec{Name: "min-gpu-memory", Kind: intK, Default: "0", Usage: "Fail before training when a picked GPU has less free memory than this, in MiB."},
			input.Spec{Name: "namespace", Kind: str, Default: "default", Usage: "Kubernetes namespace of the training Job (backend: kubernetes)."},
			input.Spec{Name: "kubeconfig", Kind: str, Usage: "Path to a kubeconfig. Default: $KUBECONFIG, then in-cluster."},
			input.Spec{Name: "artifact", Kind: str, Usage: "Repository the training Job pushes its output to as a ModelPack artifact, for ferry to pull back; a search's trials get their rows from it (backend: kubernetes)."},
			input.Spec{Name: "collector-image", Kind: str, Default: version.ImageRepository + ":v" + version.Version, Usage: "ferry's image: the Job's container that pushes the output, and the builtin trainer's search trials (backend: kubernetes)."},
			input.Spec{Name: "registry-secret", Kind: str, Usage: "Secret (kubernetes.io/dockerconfigjson) the Job's collector pushes with (backend: kubernetes)."},
			input.Spec{Name: "run-as-root", Kind: boolK, Default: "false", Usage: "Run the training container as the image's own user, root included; by default it runs as user 65532 without privileges, with HOME=/tmp (backend: kubernetes)."},
			input.Spec{Name: "node-selector", Kind: list, Usage: "Node selector KEY=VALUE for the pods (repeatable)."},
			input.Spec{Name: "toleration", Kind: list, Usage: "Let the training pod onto nodes tainted KEY[=VALUE][:EFFECT], as kubectl taint writes it (repeatable); without EFFECT, every effect (backend: kubernetes)."},
			input.Spec{Name: "pod-label", Kind: list, Usage: "Extra label KEY=VALUE on the objects and their pods (repeatable)."},
			input.Spec{Name: "unschedulable-grace", Kind: dur, Default: "30s", Usage: "Fail when the training pod stays unschedulable this long (backend: kubernetes)."},
			input.Spec{Name: "nodes", Kind: intK, Default: "1", Usage: "Train across this many pods, each with the gpus asked: an Indexed Job behind a headless Service, with PyTorch's rendezvous variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_WORLD_SIZE; torchrun's PET_* too); rank 0's output is the model (backend: kubernetes)."},
			input.Spec{Name: "timeout", Kind: dur, Default: "6h", Usage: "Stop training after this long."},
			input.Spec{Name: "out", Kind: str, Default: "model", Usage: "Directory to write the model to."},
			input.Spec{Name: "paths", Kind: list, Surface: input.InputOnly, Usage: "On a pull request, train only when it changes a file matching one of these globs (** crosses directories, as in a workflow's paths:); otherwise skip training, set changed to false and report no model change. Default: always train."},
			tokenParam("to list a pull request's changed files when paths is given"),
		),
		Outputs: []Output{
			{Name: "model-dir", Description: "Directory of the trained model; empty when nothing was trained."},
			{Name: "metrics", Description: "Training and validation metrics, as JSON."},
			{Name: "changed", Description: "true when the model was trained; false when the pull request changes no file that paths names."},
		},
		Permissions: []Permission{{Scope: "contents", Access: "read", Why: "check out the repository"},
			{Scope: "pull-requests", Access: "read", Why: "list a pull request's changed files (paths)"}},
	}
}

func evaluate() Command {
	return Command{
		Name:        "evaluate",
		Action:      true,
		ActionTitle: "ferry evaluate",
		Short:       "Compare a candidate with the champion, apply gates, report on the pull request",
		Long: `Score the candidate and the champion (the production model) on the same data, with a
paired bootstrap confidence interval for every metric's change, check the gates declared in
ferry.yaml or with --gate, and write the report. As an action it also posts one sticky pull
request comment and a check run. Exits 1 when a gate fails.`,
		Example: `  ferry evaluate --candidate model/ --champion registry.example.com/shop/ranker:champion \
    --data test.csv --label clicked --gate 'auc >= 0.80' --gate 'logloss max-increase 2%' --report report.md
  ferry evaluate --candidate-predictions new.csv --champion-predictions old.csv --json result.json`,
		Params: append(append([]input.Spec{
			configParam(),
			{Name: "candidate", Kind: str, Usage: "The candidate model: a model directory or an image reference."},
			{Name: "champion", Kind: str, Usage: "The production model to compare with: a model directory, or an image reference that names its registry (ghcr.io/shop/ranker:champion). An image that does not exist is an error unless ferry.yaml says first-model: true; none states the first model for this run. Default: no comparison."},
		}, dataParams("Evaluation data, the same rows for both models.")...),
			input.Spec{Name: "candidate-predictions", Kind: str, Usage: "Candidate scores as a CSV from ferry predict, instead of a model."},
			input.Spec{Name: "champion-predictions", Kind: str, Usage: "Champion scores as a CSV from ferry predict, instead of a model."},
			input.Spec{Name: "gate", Kind: list, Usage: "A gate: 'auc >= 0.8', 'ndcg@10 max-drop 1%' (percent of the champion), 'logloss max-increase 0.01 abs' (the metric's units), optionally ending in significant (fail only when the interval of the change lies wholly past the allowance)."},
			input.Spec{Name: "slice", Kind: str, Usage: "Column to report metrics per segment of (device, category...)."},
			input.Spec{Name: "weight", Kind: str, Usage: "Column of sample weights for the binary and regression metrics. Default: every row weighs 1."},
			input.Spec{Name: "bootstrap", Kind: intK, Default: "1000", Usage: "Number of bootstrap resamples."},
			input.Spec{Name: "confidence", Kind: float, Default: "0.95", Usage: "Confidence level of the intervals."},
			input.Spec{Name: "seed", Kind: intK, Default: "1", Usage: "Random seed of the bootstrap."},
			input.Spec{Name: "allow-data-change", Kind: boolK, Default: "false", Usage: "Compare on data whose bytes changed since the candidate was evaluated on it (the candidate's evaluations.json pins each file or object). Without it that is an error: the comparison would not be on the rows the pull request showed."},
			input.Spec{Name: "report", Kind: str, Usage: "Write the Markdown report to this file."},
			input.Spec{Name: "json", Kind: str, Usage: "Write the results as JSON to this file."},
			input.Spec{Name: "comment", Kind: boolK, Default: "true", Surface: input.InputOnly, Usage: "Post or update the sticky pull request comment."},
			input.Spec{Name: "check-run", Kind: boolK, Default: "true", Surface: input.InputOnly, Usage: "Create a check run that carries the verdict."},
			input.Spec{Name: "model-changed", Kind: boolK, Default: "true", Surface: input.InputOnly, Usage: "Pass the train step's changed output: when false, nothing is evaluated and the check run succeeds with \"no model change\", so a required check appears on every pull request."},
			input.Spec{Name: "head-sha", Kind: str, Surface: input.InputOnly, Usage: "The commit the check run goes on. Default: the pull request's head from the event (an issue_comment event has none: pass the commit the workflow checked out)."},
			tokenParam("to comment and create the check run"),
		),
		Outputs: []Output{
			{Name: "verdict", Description: "pass or fail."},
			{Name: "report", Description: "Path of the Markdown report."},
			{Name: "metrics", Description: "Champion, candidate and delta per metric, as JSON."},
			{Name: "comment-url", Description: "Link to the pull request comment."},
		},
		Permissions: []Permission{
			{Scope: "contents", Access: "read", Why: "check out the repository"},
			{Scope: "pull-requests", Access: "write", Why: "post and update the sticky comment"},
			{Scope: "checks", Access: "write", Why: "create the check run that branch protection can require"},
			{Scope: "packages", Access: "read", Why: "pull the champion image from GHCR"},
		},
	}
}

// searchTrial is what the pod of a search trial on Kubernetes runs (ferry
// train --search --backend kubernetes): one trial of its Indexed Job's
// batch, picked by the pod's index.
func searchTrial() Command {
	return Command{
		Name:  "search-trial",
		Short: "Run one trial of a parameter search in a Kubernetes pod (ferry's own plumbing)",
		Long: `What the pods of a search's Indexed Job run (ferry train --search --backend kubernetes): the
trial of the batch in FERRY_TRIAL_BATCH at the pod's index, on the rows the artifact carries. The
scored trial goes to the termination message, where ferry reads it back.`,
		Example: `  ferry search-trial --rows registry.example/shop/models@sha256:... --index 0 --result trial.json`,
		Hidden:  true,
		Params: []input.Spec{
			{Name: "rows", Kind: str, Usage: "The search's rows: an artifact by digest."},
			{Name: "index", Kind: intK, Default: "-1", Usage: "The trial's index in the batch. Default: the pod's, JOB_COMPLETION_INDEX."},
			{Name: "result", Kind: str, Default: "/dev/termination-log", Usage: "Where the scored trial goes, for ferry to read back."},
		},
	}
}

func packageCmd() Command {
	return Command{
		Name:        "package",
		Action:      true,
		ActionTitle: "ferry package",
		Short:       "Build a model image without Docker and push it by digest",
		Long: `Build an OCI image of the model with ferry-serve (no Docker daemon): an optional base, a
layer with the server, a layer with the model. The same inputs give the same digest. Push it
to a registry, or write an OCI layout or a tarball. Prints IMAGE@DIGEST last.`,
		Example: `  ferry package --model model/ --image ghcr.io/shop/ranker --tag sha-$(git rev-parse HEAD) --tag pr-42
  ferry package --model model/ --layout out/oci`,
		Params: []input.Spec{
			{Name: "model", Kind: str, Default: "model", Usage: "Model directory to package."},
			{Name: "image", Kind: str, Usage: "Repository to push to, such as ghcr.io/shop/ranker."},
			{Name: "tag", Kind: list, Comma: true, Usage: "Tags to push."},
			{Name: "layout", Kind: str, Usage: "Write an OCI image layout to this directory instead of pushing."},
			{Name: "tarball", Kind: str, Usage: "Write an image tarball to this file instead of pushing."},
			{Name: "base", Kind: str, Usage: "Base image. Default: none (ferry-serve is static)."},
			{Name: "platform", Kind: list, Comma: true, Usage: "Platforms such as linux/amd64. Default: linux/amd64."},
			{Name: "kind", Kind: enum, Default: "image", Values: []string{"image", "modelpack"}, Usage: "A runnable image, or a CNCF ModelPack artifact."},
			{Name: "rank", Kind: intK, Default: "0", Surface: input.FlagOnly, Usage: "The pod's rank in a training Job across nodes (ferry train --nodes sets it): any but 0 packages nothing, since rank 0's output is the model."},
			{Name: "registry-username", Kind: str, Surface: input.InputOnly, Default: "${{ github.actor }}", Usage: "Registry user name."},
			{Name: "registry-password", Kind: str, Secret: true, Surface: input.InputOnly, Default: "${{ github.token }}", Usage: "Registry password or token."},
		},
		Outputs: []Output{
			{Name: "image", Description: "The image repository pushed to."},
			{Name: "digest", Description: "The image's digest, sha256:..."},
			{Name: "ref", Description: "The image by digest: IMAGE@DIGEST."},
		},
		Permissions: []Permission{
			{Scope: "contents", Access: "read", Why: "check out the repository"},
			{Scope: "packages", Access: "write", Why: "push the image to GHCR"},
		},
	}
}

func deploy() Command {
	return Command{
		Name:        "deploy",
		Action:      true,
		ActionTitle: "ferry deploy",
		Short:       "Roll a model image out by digest, watch it, roll back on failure",
		Long: `Deploy the exact image a pull request evaluated: resolve it to a digest, apply a Deployment,
Service and PodDisruptionBudget with server-side apply, watch the rollout, fail early on image
pull errors, crash loops and unschedulable pods, and roll back on failure. With --canary, a
share of replicas runs the new image for the analysis window first. On success the registry
tag "champion" moves to the digest. --target local runs the image's server as a local process.`,
		Example: `  ferry deploy --target kubernetes --image ghcr.io/shop/ranker:pr-42 --name ranker --namespace search
  ferry deploy --target kubernetes --image ghcr.io/shop/ranker@sha256:... --name ranker --canary 20 --analysis 5m
  ferry deploy --target local --image ghcr.io/shop/ranker:pr-42 --name ranker`,
		Params: []input.Spec{
			{Name: "target", Kind: enum, Default: "local", Values: []string{"kubernetes", "local"}, Usage: "Where to deploy."},
			{Name: "image", Kind: str, Usage: "Image to deploy: IMAGE:TAG (resolved to its digest), IMAGE@DIGEST, an OCI layout DIR@DIGEST (local), or a repository alone: then the merged pull request's pr-N tag, else sha-COMMIT."},
			{Name: "name", Kind: str, Usage: "Name of the deployment. Default: the model's name."},
			{Name: "namespace", Kind: str, Default: "default", Usage: "Kubernetes namespace."},
			{Name: "create-namespace", Kind: boolK, Default: "false", Usage: "Create the namespace when it does not exist."},
			{Name: "kubeconfig", Kind: str, Usage: "Path to a kubeconfig. Default: $KUBECONFIG, then in-cluster."},
			{Name: "replicas", Kind: intK, Default: "2", Usage: "Number of replicas."},
			{Name: "timeout", Kind: dur, Default: "10m", Usage: "Give up on a rollout after this long."},
			{Name: "canary", Kind: intK, Default: "0", Usage: "Percent of replicas to run the new image on first; 0 for none."},
			{Name: "analysis", Kind: dur, Default: "5m", Usage: "How long to watch the canary before promoting it."},
			{Name: "unschedulable-grace", Kind: dur, Default: "30s", Usage: "Fail the rollout when a pod stays unschedulable this long (a cluster autoscaler may add a node meanwhile)."},
			{Name: "cpu", Kind: str, Default: "500m", Usage: "CPU request per replica."},
			{Name: "memory", Kind: str, Default: "512Mi", Usage: "Memory request and limit per replica."},
			{Name: "replica-gpus", Kind: intK, Default: "0", Usage: "nvidia.com/gpu limit per replica (the pods then tolerate the nvidia.com/gpu taint)."},
			{Name: "max-replicas", Kind: intK, Default: "0", Usage: "Add a HorizontalPodAutoscaler from --replicas up to this many; 0 for none."},
			{Name: "node-selector", Kind: list, Usage: "Node selector KEY=VALUE for the pods (repeatable)."},
			{Name: "toleration", Kind: list, Usage: "Let the pods onto nodes tainted KEY[=VALUE][:EFFECT], as kubectl taint writes it (repeatable); without EFFECT, every effect."},
			{Name: "pod-label", Kind: list, Usage: "Extra label KEY=VALUE on the objects and their pods (repeatable)."},
			configParam(),
			{Name: "recheck", Kind: boolK, Default: "false", Usage: "Before rolling out, evaluate the image against the champion that serves now, with ferry.yaml's test data and gates: another merge may have moved the champion since the pull request was evaluated. A failed gate stops the rollout (exit 1)."},
			{Name: "promote", Kind: boolK, Default: "true", Usage: "Move the registry tag champion to the deployed digest on success (champion-prev keeps the one before)."},
			{Name: "pull-request", Kind: intK, Default: "0", Usage: "The merged pull request whose image to deploy (its pr-N tag). Default: from the push."},
			{Name: "stop", Kind: boolK, Default: "false", Usage: "With --target local: stop the local deployment NAME."},
			{Name: "local-dir", Kind: str, Default: "ferry-deploy", Usage: "With --target local: where the unpacked image, PID, URL and log live."},
			{Name: "environment", Kind: str, Surface: input.InputOnly, Default: "production", Usage: "GitHub environment to record the deployment in."},
			{Name: "registry-username", Kind: str, Surface: input.InputOnly, Default: "${{ github.actor }}", Usage: "Registry user name."},
			{Name: "registry-password", Kind: str, Secret: true, Surface: input.InputOnly, Default: "${{ github.token }}", Usage: "Registry password or token."},
			tokenParam("to find the merged pull request and record the GitHub deployment"),
		},
		Outputs: []Output{
			{Name: "digest", Description: "The digest that was deployed."},
			{Name: "ref", Description: "The image by digest: IMAGE@DIGEST."},
			{Name: "previous-digest", Description: "The digest that served before, the one a rollback returns to."},
			{Name: "status", Description: "deployed, unchanged, rolled-back, canary-aborted or failed; skipped when the merged pull request (or the pushed commit) has no image because it changed no file of the model; smoke-tested for target local in the action, whose server is stopped with the step."},
			{Name: "url", Description: "With --target local on the command line: the server's URL (the action only smoke-tests)."},
		},
		Permissions: []Permission{
			{Scope: "contents", Access: "read", Why: "check out the repository"},
			{Scope: "packages", Access: "write", Why: "move the champion tag in GHCR"},
			{Scope: "deployments", Access: "write", Why: "record the GitHub deployment and its status"},
			{Scope: "pull-requests", Access: "read", Why: "find the pull request a pushed commit merged"},
		},
	}
}

func serveCmd() Command {
	return Command{
		Name:  "serve",
		Short: "Serve a model over the Open Inference Protocol (KServe V2)",
		Long: `Load a model directory and answer the Open Inference Protocol over HTTP: health, model
metadata, and POST /v2/models/NAME/infer, with Prometheus metrics on /metrics. The same
server, as ferry-serve, runs inside model images. Requests are JSON (Content-Type
application/json; any other is refused with 415), read as they arrive: a request costs the
server about its tensor's float32 size, and a shape over --max-rows is refused before its data.`,
		Example: `  ferry serve --model model/ --addr 127.0.0.1:8080
  curl -s localhost:8080/v2/models/model/infer -H 'Content-Type: application/json' -d @request.json`,
		Params: []input.Spec{
			{Name: "model", Kind: str, Default: "model", Usage: "Model directory to serve."},
			{Name: "addr", Kind: str, Default: "127.0.0.1:8080", Usage: "Address to listen on, HOST:PORT."},
			{Name: "name", Kind: str, Usage: "Model name in URLs. Default: the model's name."},
			{Name: "max-rows", Kind: intK, Default: "100000", Usage: "The most rows one infer request may hold; a larger shape is refused (400) before its data is read."},
			{Name: "max-request-mib", Kind: intK, Default: "32", Usage: "The largest infer request body, in MiB; a larger one is refused (413)."},
			{Name: "log-predictions", Kind: str, Usage: "Append one JSON line per scored request (id, model, model.json's sha256, time, the inputs' sha256 or values, the scores) to this file, or - for standard output; written from a queue, never holding a request (a full queue drops and counts the record)."},
			{Name: "log-sample", Kind: float, Default: "1", Usage: "Share of requests logged, above 0 and at most 1."},
			{Name: "log-max-mib", Kind: intK, Default: "100", Usage: "Rotate the prediction log past this size: it becomes FILE.1, replacing the one before."},
			{Name: "log-inputs", Kind: boolK, Default: "false", Usage: "Log the feature values themselves, not their sha256."},
			{Name: "batch", Kind: boolK, Default: "true", Usage: "Score small requests (up to 32 rows) that arrive while others are being scored together, as one call of the model: MLP and ONNX networks whose rows score the same alone as together, checked at start. Nothing waits for a batch to fill. false scores each request alone."},
		},
	}
}

func predict() Command {
	return Command{
		Name:  "predict",
		Short: "Score a data file with any model ferry reads",
		Long: `Score every row of a data file with a model directory (ferry native, XGBoost JSON,
LightGBM text or ONNX) and write a CSV with the columns row,group,label,score in input order.`,
		Example: `  ferry predict --model model/ --data test.csv --label clicked --out predictions.csv`,
		Params: append(append([]input.Spec{
			{Name: "model", Kind: str, Default: "model", Usage: "Model directory."},
		}, dataParams("Data to score.")...),
			input.Spec{Name: "out", Kind: str, Default: "-", Usage: "File to write the predictions to; - for standard output."},
		),
	}
}

func monitor() Command {
	return Command{
		Name:  "monitor",
		Short: "Check a deployed model's traffic for drift from what it saw in training",
		Long: `Read the live counts a ferry-serve keeps in its model's training bins (its /metrics) and compare
them, per feature and for the score, with the profile that train and model import keep in the model
directory (profile.json): the population stability index (PSI) and a chi-square test of the live
counts against the training shares. A column has drifted when its PSI reaches its threshold and the
test gives a p-value under --p-value. Exit 1 on drift, as on a failed gate; with fewer than
--min-rows live rows it says it cannot tell yet and exits 0. The counts are those since the server
started, or from a Prometheus server that scrapes the servers, over --window.`,
		Example: `  ferry monitor --model model/ --url http://ranker.shop:8080
  ferry monitor --model model/ --name ranker --namespace search
  ferry monitor --model model/ --prometheus http://prometheus:9090 --selector 'namespace="search",app="ranker"' --window 24h
  ferry monitor --model model/ --url http://localhost:8080 --report drift.md --json drift.json`,
		Params: []input.Spec{
			configParam(),
			{Name: "model", Kind: str, Default: "model", Usage: "The deployed model: its directory, with the profile.json train wrote, or its image (such as ghcr.io/shop/ranker:champion), whose /model is read."},
			{Name: "url", Kind: str, Usage: "Base URL of the ferry-serve serving it, such as http://ranker.shop:8080."},
			{Name: "name", Kind: str, Usage: "Or the Kubernetes deployment serving it (as ferry deploy --name): every running pod is read through the API server and the counts added up. Default without --url: ferry.yaml's name, as ferry deploy names it."},
			{Name: "namespace", Kind: str, Default: "default", Usage: "Kubernetes namespace of --name."},
			{Name: "kubeconfig", Kind: str, Usage: "Path to a kubeconfig. Default: $KUBECONFIG, then in-cluster."},
			{Name: "prometheus", Kind: str, Usage: "Or a Prometheus server that scrapes the model's ferry-serve pods, such as http://prometheus.monitoring:9090: the counts of the series --selector picks, summed."},
			{Name: "selector", Kind: str, Usage: `With --prometheus: the label matchers of this model's servers' series, without braces, such as namespace="search",deployment="ranker". They must all serve this model.`},
			{Name: "window", Kind: dur, Default: "0s", Usage: "With --prometheus: judge the counts' increase over this long, such as 24h. Default: the counts since the servers started."},
			{Name: "psi", Kind: float, Default: "0.2", Usage: "PSI at which a column has drifted (0.1 is commonly read as a moderate shift, 0.25 as a large one)."},
			{Name: "p-value", Kind: float, Default: "0.01", Usage: "The chi-square test must give a p-value under this too: a shift chance explains is not drift."},
			{Name: "min-rows", Kind: intK, Default: "200", Usage: "Fewest live rows to judge on."},
			{Name: "report", Kind: str, Usage: "Write the Markdown report (a table and Mermaid histograms of the drifted columns) here."},
			{Name: "json", Kind: str, Usage: "Write the result as JSON here."},
			{Name: "timeout", Kind: dur, Default: "30s", Usage: "How long to wait for the server's /metrics."},
			tokenParam("to open or update the drift issue and start the retraining workflow"),
			{Name: "issue", Kind: boolK, Default: "true", Surface: input.InputOnly, Usage: "On drift, open or update one issue of ferry's for this model (sticky, like the pull request comment) with the report."},
			{Name: "retrain-workflow", Kind: str, Surface: input.InputOnly, Usage: "On drift, start this workflow (its file name, such as retrain.yml, which must declare workflow_dispatch) so the next model arrives as a pull request; empty: none."},
			{Name: "retrain-ref", Kind: str, Default: "main", Surface: input.InputOnly, Usage: "The branch the retraining workflow runs on."},
		},
		Action:      true,
		ActionTitle: "ferry monitor",
		Outputs: []Output{
			{Name: "status", Description: "ok, drift, too-few-rows or no-profile."},
			{Name: "drifted", Description: "The drifted columns, comma-separated."},
			{Name: "issue-url", Description: "Link to the drift issue; empty when there is no drift."},
		},
		Permissions: []Permission{
			{Scope: "issues", Access: "write", Why: "open and update the drift issue"},
			{Scope: "actions", Access: "write", Why: "start the retraining workflow (retrain-workflow)"},
		},
	}
}

func metrics() Command {
	return Command{
		Name:  "metrics",
		Short: "Compute evaluation metrics from a predictions file",
		Long: `Read a CSV of predictions (as ferry predict writes it) and print the metrics that apply:
AUC, log-loss, accuracy, precision, recall, F1, Brier and calibration error for binary labels;
MSE, RMSE and MAE for regression; NDCG@k, MAP@k, MRR, precision@k and recall@k for groups.`,
		Example: `  ferry metrics --predictions predictions.csv --k 1,3,5,10 --json`,
		Params: []input.Spec{
			{Name: "predictions", Kind: str, Required: true, Usage: "CSV file with label and score columns."},
			{Name: "label", Kind: str, Default: "label", Usage: "Label column."},
			{Name: "score", Kind: str, Default: "score", Usage: "Score column."},
			{Name: "group", Kind: str, Default: "group", Usage: "Query column for ranking metrics; ignored when absent."},
			{Name: "weight", Kind: str, Usage: "Column of sample weights for the binary and regression metrics. Default: every row weighs 1."},
			{Name: "k", Kind: list, Comma: true, Default: "1,3,5,10", Usage: "Cut-offs for the ranking metrics."},
			{Name: "json", Kind: boolK, Default: "false", Usage: "Print one JSON object instead of a table."},
		},
	}
}

func model() Command {
	return Command{
		Name:  "model",
		Short: "Inspect a model directory, or import a model made elsewhere",
		Long: `Print what model.json says about a model: format, task, feature schema, parameters,
metrics and lineage (git sha, data sha256, trainer, timings), after checking that it loads.
'ferry model import' turns a model saved by XGBoost or LightGBM or exported to ONNX into a model
directory.`,
		Example: `  ferry model --model model/
  ferry model --model model/ --json
  ferry model import --from xgboost booster.json --data train.csv --label clicked --out model/`,
		Params: []input.Spec{
			{Name: "model", Kind: str, Default: "model", Usage: "Model directory."},
			{Name: "json", Kind: boolK, Default: "false", Usage: "Print model.json's contents as JSON."},
		},
		Sub: []Command{modelImport(), modelHistory(), modelGC()},
	}
}

func modelImport() Command {
	return Command{
		Name:  "import",
		Short: "Make a model directory from a model file saved by another tool",
		Long: `Read a model file written by another tool, check that ferry can score it (its objective,
booster and format version), and write a model directory around it. Give --data, with the
usual data flags, to record the feature schema from the data the model was trained on: its
columns, in file order, are the model's features. Without --data the features are named
after the model's own feature names, or f0, f1... in the model's order; an ONNX model needs --data.
A LightGBM model takes numbers only: its categorical features take their integer codes.
A one-input ONNX network takes every feature as float32 [rows, features]; a network with
several inputs takes each feature by the input of its name (int64 inputs get category indexes).`,
		Example: `  ferry model import --from xgboost booster.json --data train.csv --label clicked --out model/
  ferry model import --from xgboost ranker.json --data rank.train --format libsvm --out ranker/
  ferry model import --from lightgbm model.txt --data rank.train --format libsvm --out ranker/
  ferry model import --from onnx ctr.onnx --data train.csv --label clicked --task binary --out ctr/`,
		Params: append([]input.Spec{
			{Name: "from", Kind: enum, Required: true, Values: []string{"xgboost", "lightgbm", "onnx"}, Usage: "The tool that saved the model."},
			{Name: "file", Kind: str, Required: true, Surface: input.FlagOnly, Usage: "The model file (the positional argument)."},
			{Name: "out", Kind: str, Required: true, Usage: "Directory to write the model directory to."},
			{Name: "name", Kind: str, Usage: "Model name. Default: the base name of --out."},
			{Name: "task", Kind: enum, Default: "binary", Values: []string{"binary", "regression", "ranking"}, Usage: "What the model predicts, when the file does not say (ONNX)."},
		}, dataParams("Data the model was trained on, for the feature schema.")...),
		Positional: "file",
	}
}

func modelHistory() Command {
	return Command{
		Name:  "history",
		Short: "List the champions of a model image repository, newest first",
		Long: `List every digest that was champion in an image repository, newest first: when it was
promoted (from the champion-<time> tag ferry deploy leaves on each promotion), its tags (pr-N,
sha-..., champion), when the image was built, and the metrics its annotations carry, read from
the registry with the credentials ferry package and deploy use. With --github-repository, also
each champion's GitHub deployments (environment, state, who, when, pull request), which the
deploy action records with the image's digest, read with GITHUB_TOKEN.`,
		Example: `  ferry model history ghcr.io/shop/ranker
  GITHUB_TOKEN=$(gh auth token) ferry model history ghcr.io/shop/ranker --github-repository shop/ranker --json`,
		Params: []input.Spec{
			{Name: "image", Kind: str, Required: true, Surface: input.FlagOnly, Usage: "The image repository (the positional argument)."},
			{Name: "github-repository", Kind: str, Usage: "OWNER/NAME of the repository whose deploy workflow records GitHub deployments: add each champion's (GITHUB_TOKEN reads them; GITHUB_API_URL for GitHub Enterprise)."},
			{Name: "json", Kind: boolK, Default: "false", Usage: "Print JSON instead of a table."},
		},
		Positional: "image",
	}
}

func modelGC() Command {
	return Command{
		Name:  "gc",
		Short: "Delete old pull request images from a model image repository",
		Long: `Delete the images of pull requests and commits (tags pr-N and sha-...) built longer ago than
--older-than. A digest that carries any other tag is kept: champion, champion-prev, the newest
--keep-champions champion records, a release tag. Registries delete by digest, so an image goes
with all its tags. --dry-run (the default) lists what would go; --dry-run=false deletes.`,
		Example: `  ferry model gc ghcr.io/shop/ranker --older-than 720h --dry-run
  ferry model gc ghcr.io/shop/ranker --older-than 720h --keep-champions 10 --open 41,42 --dry-run=false`,
		Params: []input.Spec{
			{Name: "image", Kind: str, Required: true, Surface: input.FlagOnly, Usage: "The image repository (the positional argument)."},
			{Name: "older-than", Kind: dur, Default: "720h", Usage: "Keep images built more recently than this."},
			{Name: "keep-champions", Kind: intK, Default: "5", Usage: "Keep the digests of this many newest champions (at least 1), besides champion and champion-prev."},
			{Name: "open", Kind: list, Comma: true, Usage: "Numbers of open pull requests, whose pr-N images are kept at any age."},
			{Name: "dry-run", Kind: boolK, Default: "true", Usage: "List what would be deleted and delete nothing."},
		},
		Positional: "image",
	}
}

func demo() Command {
	return Command{
		Name:  "demo",
		Short: "Run the whole loop on generated data, on this machine",
		Long: `Run what a pull request and a merge run, on embedded defaults and generated e-commerce
search data: train a champion and a candidate, evaluate them, package the candidate, deploy it
locally and query it. Writes everything under --dir.`,
		Example: `  ferry demo
  ferry demo --dir /tmp/ferry-demo`,
		Params: []input.Spec{
			{Name: "dir", Kind: str, Default: "ferry-demo", Usage: "Directory for the demo's data, models, report and image."},
			{Name: "seed", Kind: intK, Default: "1", Usage: "Random seed of the generated data."},
		},
	}
}

func initCmd() Command {
	return Command{
		Name:  "init",
		Short: "Add ferry.yaml and the pull request and merge workflows to a repository",
		Long: `Write a commented ferry.yaml and the GitHub workflows for the chosen trainer into a model
repository. Existing files are left alone unless --force is given.`,
		Example: `  ferry init --trainer builtin
  ferry init --trainer command --force`,
		Params: []input.Spec{
			{Name: "dir", Kind: str, Default: ".", Usage: "Repository root to write into."},
			{Name: "trainer", Kind: enum, Default: "builtin", Values: []string{"builtin", "command", "kubernetes"}, Usage: "How the workflows train."},
			{Name: "force", Kind: boolK, Default: "false", Usage: "Overwrite files that exist."},
		},
	}
}

func versionCmd() Command {
	return Command{
		Name:    "version",
		Short:   "Print ferry's version",
		Long:    `Print the version, commit, Go version and platform of this ferry binary.`,
		Example: "  ferry version\n  ferry version --json",
		Params: []input.Spec{
			{Name: "json", Kind: boolK, Default: "false", Surface: input.FlagOnly, Usage: "Print JSON instead of one line."},
		},
		Outputs: []Output{
			{Name: "version", Description: "ferry's version."},
			{Name: "commit", Description: "The commit ferry was built from."},
		},
	}
}

// ServeConfig reads the serve command's parameters (of `ferry serve` and
// the ferry-serve binary) into the server's config.
func ServeConfig(in *input.Reader) (serve.Config, error) {
	cfg := serve.Config{ModelDir: in.String("model"), Addr: in.String("addr"), Name: in.String("name"),
		MaxRows: in.Int("max-rows"), MaxBodyBytes: int64(in.Int("max-request-mib")) << 20,
		Predictions: serve.PredictionLog{Path: in.String("log-predictions"), Sample: in.Float("log-sample"),
			MaxBytes: int64(in.Int("log-max-mib")) << 20, Inputs: in.Bool("log-inputs")}, NoBatch: !in.Bool("batch")}
	if err := in.Err(); err != nil {
		return serve.Config{}, err
	}
	if share := cfg.Predictions.Sample; !(share > 0) || share > 1 {
		return serve.Config{}, &input.Error{Param: in.Describe("log-sample"), Value: strconv.FormatFloat(share, 'g', -1, 64), Want: "a share above 0 and at most 1, such as 0.1"}
	}
	if n := in.Int("log-max-mib"); n < 1 || n > 1<<20 {
		return serve.Config{}, &input.Error{Param: in.Describe("log-max-mib"), Value: strconv.Itoa(n), Want: "a whole number from 1 to 1048576"}
	}
	for _, p := range []string{"max-rows", "max-request-mib"} {
		if n := in.Int(p); n < 1 || n > 1<<20 {
			return serve.Config{}, &input.Error{Param: in.Describe(p), Value: strconv.Itoa(n), Want: "a whole number from 1 to 1048576"}
		}
	}
	return cfg, nil
}

// Package external runs the user's own training command (PyTorch, XGBoost,
// anything) and turns what it writes into a ferry model directory.
//
// The command gets, in its environment:
//
//	FERRY_OUTPUT        a fresh directory to write the model and metrics.json to
//	FERRY_DATA_TRAIN    the training data, as an absolute path (when given)
//	FERRY_DATA_VALID    the validation data (when given)
//	FERRY_SEED          the run's seed
//	FERRY_LABEL, FERRY_GROUP   the label and group columns (when given)
//	FERRY_PARAM_<NAME>  in a search (ferry train --search), the trial's value of
//	                    each parameter of ferry.yaml's train.search.space
//	FERRY_TRIAL         in a search, the trial's number, from 1
//	CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES   the GPUs picked by the preflight
//
// Across nodes (Kubernetes.Nodes > 1), each pod also gets PyTorch's
// rendezvous variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK,
// LOCAL_RANK, LOCAL_WORLD_SIZE) and torchrun's (PET_*): distributed.go.
//
// Its output streams to the log as it comes; it runs in its own process group
// so that a timeout or a cancellation stops it and its children: SIGTERM
// first, SIGKILL after a grace period. A failure keeps the exit status and
// the last lines of output.
//
// Backends say where the command runs: on the runner itself (host, here),
// in a sibling container through the Docker Engine API (docker), or as a
// Kubernetes Job whose output comes back as a ModelPack artifact
// (kubernetes).
package external

// Package gpu is the GPU preflight of the train stage: it asks nvidia-smi
// what GPUs the machine has, how much of their memory is free and which
// driver and CUDA version it runs, picks the GPUs a run asked for, and
// fails clearly when they are missing or busy, before any training starts.
package gpu

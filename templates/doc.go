// Package templates holds ferry's embedded templates, split by job into
// packages of their own: report (the Markdown ferry writes for people),
// manifests (the Kubernetes objects of a deployment) and workflows (what
// `ferry init` writes). Its tests check the three against golden files and
// the YAML and Kubernetes types they must decode into.
package templates
